// hiredis' async context on a libuv loop.
#pragma once

#include <uv.h>

struct redisAsyncContext;

namespace payhook::redis {

// Attaches `c` to `loop` through hiredis' libuv adapter, with the adapter's socket error handling repaired
// (uv_adapter.cpp says what it lacks). REDIS_OK or REDIS_ERR; on an error `c` is not attached.
int attachToLoop(redisAsyncContext* c, uv_loop_t* loop);

}  // namespace payhook::redis
