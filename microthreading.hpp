// microthreading.hpp — the whole engine in one include, for programs that
// use the installed library: #include <microthreading/microthreading.hpp>.
// (Each header also stands alone: <microthreading/pipes/micro_pipe.hpp>.)
#pragma once

#include "core/microthreading.hpp"
#include "nonblocking_io/buffered_reader.hpp"
#include "nonblocking_io/fd.hpp"
#include "nonblocking_io/file_chunks.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/process.hpp"
#include "nonblocking_io/process_pool.hpp"
#include "nonblocking_io/server.hpp"
#include "nonblocking_io/socket.hpp"
#include "nonblocking_io/subprocess_call.hpp"
#include "nonblocking_io/worker_pool.hpp"
#include "notifier/dump_on_signal.hpp"
#include "notifier/notifier.hpp"
#include "pipes/boxed.hpp"
#include "pipes/micro_pipe.hpp"
#include "pipes/pipeline.hpp"
#include "pipes/select.hpp"
#include "pipes/xpipe.hpp"
