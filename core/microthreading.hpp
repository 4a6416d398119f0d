// core/microthreading.hpp — the engine core in one include.
#pragma once

#include "core/actor.hpp"
#include "core/barrier.hpp"
#include "core/deadline.hpp"
#include "core/deferred.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "core/event.hpp"
#include "core/micro_thread.hpp"
#include "core/queue.hpp"
#include "core/scope.hpp"
#include "core/semaphore.hpp"
#include "core/shield.hpp"
#include "core/sleep.hpp"
#include "core/state.hpp"
#include "core/wait_group.hpp"
