// core/microthreading.hpp — the engine core in one include.
#pragma once

#include "core/condition_variable.hpp"
#include "core/deadline.hpp"
#include "core/deferred.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "core/micro_thread.hpp"
#include "core/mutex.hpp"
#include "core/recursive_mutex.hpp"
#include "core/scope.hpp"
#include "core/shield.hpp"
#include "core/sleep.hpp"
#include "core/state.hpp"
