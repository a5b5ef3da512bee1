// @convkit/native: JPEG decoding (jpeg.cc). Built when libjpeg-turbo's headers are there (CONVKIT_HAS_JPEG);
// otherwise register_jpeg adds nothing and the addon has no decodeJpeg.
#pragma once
#include <node_api.h>

void register_jpeg(napi_env env, napi_value exports);
