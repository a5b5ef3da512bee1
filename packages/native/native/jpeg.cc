// @convkit/native: JPEG decoding with libjpeg-turbo for image pipelines. decodeJpeg(bytes, scale, warp) decodes on
// libuv's thread pool (the JavaScript thread stays free) and resolves a promise with an RGB image. Two savings over a
// full decode: libjpeg's DCT scaling decodes at scale/8 of the full size (an 8×8 block becomes scale×scale, so the
// inverse DCT and the colour conversion shrink with the output), and with a warp only the rows and columns the warp
// reads are decoded (jpeg_crop_scanline and jpeg_skip_scanlines; decoding stops after the last row read). The warp
// is @convkit/augment's warpAffine, operation for operation in doubles, so the bytes are the same as warping a full
// decode in JavaScript.
#include "jpeg.h"

#ifdef CONVKIT_HAS_JPEG

#include <cerrno>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>
#include <dlfcn.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

namespace {

constexpr uint64_t kMaxPixels = 0x3fffULL * 0x3fffULL;

struct ErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr cinfo) {
  auto* manager = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, manager->message);
  std::longjmp(manager->jump, 1);
}

// Warnings are ignored, except a file that ends early: libjpeg would fill the missing rows with grey.
void on_message(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_error(cinfo);
}

struct Warp {
  double m[6];
  int width;
  int height;
  int fill;
};

// Resampling weights of one axis, in → out, with a triangle filter widened by the reduction factor (an
// antialiased bilinear resize, the rule of PIL's and torchvision's `antialias=True` bilinear): output pixel i
// averages the inputs around its centre (i + ½)·in/out.
struct AxisWeights {
  std::vector<int> first;
  std::vector<int> count;
  std::vector<double> weights;  // out × taps
  int taps = 0;
};

AxisWeights axis_weights(int in, int out) {
  AxisWeights axis;
  const double scale = static_cast<double>(in) / out;
  const double filter_scale = std::max(1.0, scale);
  const double support = filter_scale;  // the triangle's support is 1
  axis.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  axis.first.resize(out);
  axis.count.resize(out);
  axis.weights.assign(static_cast<size_t>(out) * axis.taps, 0.0);
  for (int i = 0; i < out; i++) {
    const double centre = (i + 0.5) * scale;
    int lo = static_cast<int>(centre - support + 0.5);
    int hi = static_cast<int>(centre + support + 0.5);
    lo = std::max(lo, 0);
    hi = std::min(hi, in);
    hi = std::min(hi, lo + axis.taps);
    double total = 0;
    double* w = &axis.weights[static_cast<size_t>(i) * axis.taps];
    for (int j = lo; j < hi; j++) {
      const double t = std::fabs((j - centre + 0.5) / filter_scale);
      w[j - lo] = t < 1 ? 1 - t : 0;
      total += w[j - lo];
    }
    if (total > 0) for (int j = 0; j < hi - lo; j++) w[j] /= total;
    axis.first[i] = lo;
    axis.count[i] = hi - lo;
  }
  return axis;
}

uint8_t to_byte(double value) {
  value = std::floor(value + 0.5);
  return static_cast<uint8_t>(value < 0 ? 0 : value > 255 ? 255 : value);
}

// Separable resize of an RGB image: columns first (each output row a weighted sum of whole input rows, a loop the
// compiler vectorizes across the row), into doubles, then along the rows of the smaller intermediate.
// Compiled for AVX-512, AVX2 and the baseline; the loader picks what the CPU has.
__attribute__((target_clones("avx512f", "avx2", "default")))
void resize_rgb(const uint8_t* in, int in_width, int in_height, int out_width, int out_height, uint8_t* out) {
  const AxisWeights across = axis_weights(in_width, out_width);
  const AxisWeights down = axis_weights(in_height, out_height);
  const size_t in_stride = static_cast<size_t>(in_width) * 3;
  std::vector<double> column(in_stride);
  for (int y = 0; y < out_height; y++) {
    const double* w = &down.weights[static_cast<size_t>(y) * down.taps];
    std::fill(column.begin(), column.end(), 0.0);
    for (int j = 0; j < down.count[y]; j++) {
      const uint8_t* source = in + static_cast<size_t>(down.first[y] + j) * in_stride;
      const double weight = w[j];
      for (size_t k = 0; k < in_stride; k++) column[k] += source[k] * weight;
    }
    uint8_t* target = out + static_cast<size_t>(y) * out_width * 3;
    for (int x = 0; x < out_width; x++) {
      const double* wx = &across.weights[static_cast<size_t>(x) * across.taps];
      const double* p = &column[static_cast<size_t>(across.first[x]) * 3];
      double r = 0, g = 0, b = 0;
      for (int j = 0; j < across.count[x]; j++, p += 3) {
        r += p[0] * wx[j];
        g += p[1] * wx[j];
        b += p[2] * wx[j];
      }
      target[x * 3] = to_byte(r);
      target[x * 3 + 1] = to_byte(g);
      target[x * 3 + 2] = to_byte(b);
    }
  }
}

struct Job {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  const uint8_t* bytes = nullptr;
  size_t size = 0;
  std::string path;  // when not empty: read this file on the thread pool instead of `bytes`
  std::vector<uint8_t> file;
  bool refuse_icc = false;
  int32_t scale = 8;
  bool has_warp = false;
  Warp warp{};
  int32_t resize_width = 0;  // > 0: resize the decoded image to resize_width × resize_height
  int32_t resize_height = 0;
  bool has_colour = false;
  double colour[15];  // matrix (9), offset (3), grey gain (3)
  float* into = nullptr;  // non-null: write the values × into_scale here instead of returning bytes
  napi_ref into_ref = nullptr;
  double into_scale = 1;
  napi_ref bytes_ref = nullptr;  // keeps the input array (read on a decode thread) alive
  std::vector<uint8_t> out;
  int width = 0;
  int height = 0;
  std::string error;
};

// The rectangle of a width × height image that warp reads: augment's readRegion (the bilinear neighbours of the
// mapped output pixel centres, one pixel of margin), clipped, at least 1×1.
void read_region(const Warp& w, int width, int height, int& left, int& top, int& right, int& bottom) {
  const double* m = w.m;
  const double us[2] = {0.5, w.width - 0.5};
  const double vs[2] = {0.5, w.height - 0.5};
  double min_x = INFINITY, max_x = -INFINITY, min_y = INFINITY, max_y = -INFINITY;
  for (double u : us) {
    for (double v : vs) {
      const double x = m[0] * u + m[1] * v + m[2];
      const double y = m[3] * u + m[4] * v + m[5];
      min_x = std::min(min_x, x);
      max_x = std::max(max_x, x);
      min_y = std::min(min_y, y);
      max_y = std::max(max_y, y);
    }
  }
  auto clip = [](double value, int size) { return static_cast<int>(std::min<double>(size - 1, std::max<double>(0, value))); };
  left = clip(std::floor(min_x - 0.5) - 1, width);
  top = clip(std::floor(min_y - 0.5) - 1, height);
  right = std::max(left, clip(std::floor(max_x - 0.5) + 2, width));
  bottom = std::max(top, clip(std::floor(max_y - 0.5) + 2, height));
}

// warpAffine over an image of full_width × full_height of which rows [top, top + rows) and columns
// [left, left + cols) are in `part`: the same arithmetic, in the same order, as the JavaScript.
void warp_affine(const uint8_t* part, int left, int top, int cols, int rows, int full_width, int full_height, const Warp& w,
                 uint8_t* out) {
  const double a = w.m[0], b = w.m[1], c = w.m[2], d = w.m[3], e = w.m[4], f = w.m[5];
  const int max_x = full_width - 1;
  const int max_y = full_height - 1;
  const size_t row_stride = static_cast<size_t>(cols) * 3;
  // The region holds every pixel read (read_region's margin covers the drift of the running sums); the clamps of
  // the row and column indices only guard memory, once per pixel rather than per neighbour.
  auto clamp_col = [&](int x) { return static_cast<size_t>(std::min(std::max(x - left, 0), cols - 1)); };
  auto clamp_row = [&](int y) { return static_cast<size_t>(std::min(std::max(y - top, 0), rows - 1)); };
  size_t o = 0;
  for (int v = 0; v < w.height; v++) {
    const double vc = v + 0.5;
    double x = a * 0.5 + b * vc + c;
    double y = d * 0.5 + e * vc + f;
    for (int u = 0; u < w.width; u++, x += a, y += d) {
      if (!(x >= 0 && x <= full_width && y >= 0 && y <= full_height)) {
        out[o++] = static_cast<uint8_t>(w.fill);
        out[o++] = static_cast<uint8_t>(w.fill);
        out[o++] = static_cast<uint8_t>(w.fill);
        continue;
      }
      double sx = x - 0.5;
      double sy = y - 0.5;
      if (sx < 0) sx = 0;
      else if (sx > max_x) sx = max_x;
      if (sy < 0) sy = 0;
      else if (sy > max_y) sy = max_y;
      const int x0 = static_cast<int>(sx);
      const int y0 = static_cast<int>(sy);
      const double wx = sx - x0;
      const double wy = sy - y0;
      const int x1 = x0 < max_x ? x0 + 1 : x0;
      const int y1 = y0 < max_y ? y0 + 1 : y0;
      const uint8_t* p00 = part + clamp_row(y0) * row_stride + clamp_col(x0) * 3;
      const uint8_t* p01 = p00 + (x1 - x0) * 3;
      const uint8_t* p10 = p00 + (y1 - y0) * row_stride;
      const uint8_t* p11 = p10 + (x1 - x0) * 3;
      const double w00 = (1 - wx) * (1 - wy);
      const double w01 = wx * (1 - wy);
      const double w10 = (1 - wx) * wy;
      const double w11 = wx * wy;
      for (int k = 0; k < 3; k++) {
        const double value = p00[k] * w00 + p01[k] * w01 + p10[k] * w10 + p11[k] * w11;
        out[o++] = static_cast<uint8_t>(static_cast<int32_t>(value + 0.5));
      }
    }
  }
}

// augment's colour jitter as one affine map with a mean-grey term, then the float conversion, in the JavaScript's
// order of operations: v = m·rgb + (g·meanGrey + t), truncated after the clamps, times scale.
void colour_into(const uint8_t* data, size_t pixels, const double* map, bool has_colour, float* out, double scale) {
  if (!has_colour) {
    for (size_t i = 0; i < pixels * 3; i++) out[i] = static_cast<float>(data[i] * scale);
    return;
  }
  const double* m = map;
  const double* g = map + 12;
  double mean = 0;
  if (g[0] != 0 || g[1] != 0 || g[2] != 0) {
    double sum = 0;
    for (size_t i = 0; i < pixels * 3; i += 3) sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
    mean = sum / static_cast<double>(pixels);
  }
  const double t0 = g[0] * mean + map[9];
  const double t1 = g[1] * mean + map[10];
  const double t2 = g[2] * mean + map[11];
  auto clip = [](double v) -> int32_t { return v <= 0 ? 0 : v >= 255 ? 255 : static_cast<int32_t>(v); };
  for (size_t i = 0; i < pixels * 3; i += 3) {
    const double r = data[i], gr = data[i + 1], b = data[i + 2];
    const double v0 = m[0] * r + m[1] * gr + m[2] * b + t0;
    const double v1 = m[3] * r + m[4] * gr + m[5] * b + t1;
    const double v2 = m[6] * r + m[7] * gr + m[8] * b + t2;
    out[i] = static_cast<float>(clip(v0) * scale);
    out[i + 1] = static_cast<float>(clip(v1) * scale);
    out[i + 2] = static_cast<float>(clip(v2) * scale);
  }
}

void finish_into(Job& job) {
  if (job.into == nullptr) return;
  colour_into(job.out.data(), static_cast<size_t>(job.width) * job.height, job.colour, job.has_colour, job.into, job.into_scale);
  job.out.clear();
  job.out.shrink_to_fit();
}

void decode_image(Job& job);

// Reads job.path into job.file (on the thread pool), or says why not.
bool read_file(Job& job) {
  std::FILE* f = std::fopen(job.path.c_str(), "rb");
  if (f == nullptr) {
    job.error = "cannot open " + job.path + ": " + std::strerror(errno);
    return false;
  }
  std::vector<uint8_t> data;
  uint8_t chunk[65536];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) data.insert(data.end(), chunk, chunk + got);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) {
    job.error = "cannot read " + job.path;
    return false;
  }
  job.file = std::move(data);
  job.bytes = job.file.data();
  job.size = job.file.size();
  return true;
}

void decode(Job& job) {
  if (!job.path.empty() && !read_file(job)) return;
  decode_image(job);
  if (job.error.empty()) finish_into(job);
}

void decode_image(Job& job) {
  jpeg_decompress_struct cinfo;
  ErrorManager errors;
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = on_error;
  errors.base.emit_message = on_message;
  std::vector<uint8_t> part;
  if (setjmp(errors.jump)) {
    job.error = errors.message;
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, job.bytes, static_cast<unsigned long>(job.size));
  if (job.refuse_icc) jpeg_save_markers(&cinfo, JPEG_APP0 + 2, 0xffff);
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    job.error = "CMYK JPEGs are not decoded here";
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  for (jpeg_saved_marker_ptr marker = cinfo.marker_list; job.refuse_icc && marker != nullptr; marker = marker->next) {
    if (marker->marker == JPEG_APP0 + 2 && marker->data_length >= 12 && std::memcmp(marker->data, "ICC_PROFILE", 12) == 0) {
      job.error = "the JPEG has an ICC profile (refused: refuseIccProfile)";
      jpeg_destroy_decompress(&cinfo);
      return;
    }
  }
  // sharp's default limitInputPixels: a header that claims more is refused rather than decoded into gigabytes.
  if (static_cast<uint64_t>(cinfo.image_width) * cinfo.image_height > kMaxPixels) {
    job.error = "the JPEG claims " + std::to_string(cinfo.image_width) + "×" + std::to_string(cinfo.image_height) +
                " pixels, more than the limit of 268,402,689 (sharp's limitInputPixels)";
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  cinfo.out_color_space = JCS_RGB;
  if (job.scale == 0) {
    // 'fit': the smallest of 1/8, 1/4, 1/2 whose size still covers the resize in both dimensions, else the full size.
    job.scale = 8;
    for (int s : {1, 2, 4}) {
      const long w = (static_cast<long>(cinfo.image_width) * s + 7) / 8, h = (static_cast<long>(cinfo.image_height) * s + 7) / 8;
      if (w >= job.resize_width && h >= job.resize_height) {
        job.scale = s;
        break;
      }
    }
  }
  cinfo.scale_num = static_cast<unsigned int>(job.scale);
  cinfo.scale_denom = 8;
  jpeg_start_decompress(&cinfo);
  const int full_width = static_cast<int>(cinfo.output_width);
  const int full_height = static_cast<int>(cinfo.output_height);
  if (!job.has_warp) {
    const bool resize = job.resize_width > 0;
    std::vector<uint8_t>& target = resize ? part : job.out;
    target.resize(static_cast<size_t>(full_width) * full_height * 3);
    while (cinfo.output_scanline < cinfo.output_height) {
      JSAMPROW row = target.data() + static_cast<size_t>(cinfo.output_scanline) * full_width * 3;
      jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    job.width = resize ? job.resize_width : full_width;
    job.height = resize ? job.resize_height : full_height;
    if (resize) {
      job.out.resize(static_cast<size_t>(job.width) * job.height * 3);
      resize_rgb(part.data(), full_width, full_height, job.width, job.height, job.out.data());
    }
    return;
  }
  int left, top, right, bottom;
  read_region(job.warp, full_width, full_height, left, top, right, bottom);
  // Columns: jpeg_crop_scanline widens the window to whole iMCU columns; a few more pixels on the right keep the
  // chroma upsampling's edge rule away from the pixels read.
  JDIMENSION x_offset = static_cast<JDIMENSION>(left);
  JDIMENSION crop_width = static_cast<JDIMENSION>(std::min(full_width, right + 1 + 8) - left);
  if (crop_width < static_cast<JDIMENSION>(full_width)) jpeg_crop_scanline(&cinfo, &x_offset, &crop_width);
  else x_offset = 0, crop_width = static_cast<JDIMENSION>(full_width);
  const int cols = static_cast<int>(crop_width);
  const int rows = bottom - top + 1;
  if (top > 0) jpeg_skip_scanlines(&cinfo, static_cast<JDIMENSION>(top));
  part.resize(static_cast<size_t>(cols) * rows * 3);
  for (int r = 0; r < rows; r++) {
    JSAMPROW row = part.data() + static_cast<size_t>(r) * cols * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  // Nothing below the last row read is decoded.
  jpeg_abort_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  job.width = job.warp.width;
  job.height = job.warp.height;
  job.out.resize(static_cast<size_t>(job.width) * job.height * 3);
  warp_affine(part.data(), static_cast<int>(x_offset), top, cols, rows, full_width, full_height, job.warp, job.out.data());
}

void decode_guarded(Job& job) {
  try {
    decode(job);
  } catch (const std::bad_alloc&) {
    // A header that claims a huge image: an error for this file, not the end of the process.
    job.error = "not enough memory to decode this JPEG";
    job.out.clear();
  }
}

napi_value make_error(napi_env env, const std::string& message) {
  napi_value text, error;
  napi_create_string_utf8(env, message.c_str(), message.size(), &text);
  napi_create_error(env, nullptr, text, &error);
  return error;
}

// Settles the job's promise on its JavaScript thread.
void complete(napi_env env, napi_status status, void* data) {
  Job* job = static_cast<Job*>(data);
  if (status != napi_ok && job->error.empty()) job->error = "the decode was cancelled";
  if (!job->error.empty()) {
    napi_reject_deferred(env, job->deferred, make_error(env, "decodeJpeg: " + job->error));
  } else {
    napi_value buffer, array, result, width, height, channels;
    void* bytes = nullptr;
    // Fails while the thread is being stopped (a worker's terminate()): then nobody reads the result.
    if (napi_create_arraybuffer(env, job->out.size(), &bytes, &buffer) != napi_ok || (bytes == nullptr && !job->out.empty())) {
      if (job->bytes_ref != nullptr) napi_delete_reference(env, job->bytes_ref);
      if (job->into_ref != nullptr) napi_delete_reference(env, job->into_ref);
      napi_delete_async_work(env, job->work);
      delete job;
      return;
    }
    if (!job->out.empty()) std::memcpy(bytes, job->out.data(), job->out.size());
    napi_create_typedarray(env, napi_uint8_array, job->out.size(), buffer, 0, &array);
    napi_create_object(env, &result);
    napi_create_int32(env, job->width, &width);
    napi_create_int32(env, job->height, &height);
    napi_create_int32(env, 3, &channels);
    napi_set_named_property(env, result, "data", array);
    napi_set_named_property(env, result, "width", width);
    napi_set_named_property(env, result, "height", height);
    napi_set_named_property(env, result, "channels", channels);
    napi_resolve_deferred(env, job->deferred, result);
  }
  if (job->bytes_ref != nullptr) napi_delete_reference(env, job->bytes_ref);
  if (job->into_ref != nullptr) napi_delete_reference(env, job->into_ref);
  napi_delete_async_work(env, job->work);
  delete job;
}


// The decode threads: the addon's own, as many as the CPUs the process may run on, at a lower CPU priority (nice + 10
// by default, CONVKIT_DECODE_NICE to change it, 0 to keep the process's). A training step on the same cores keeps its
// core, and the decodes take what it leaves (on 2 cores, libuv's 4 threads at the step's priority slowed the step by
// a fifth). Each decode is still queued as libuv work, whose thread waits (asleep) for the decode thread: Node then
// settles, cancels or waits for it as for any async work, a worker's shutdown included; and a nice value cannot be
// lowered again without privileges, so libuv's threads, which also serve the file system, keep theirs.
class DecodePool {
 public:
  static DecodePool& instance() {
    static DecodePool* pool = new DecodePool();  // never destroyed: its threads are detached and end with the process
    return *pool;
  }

  // Runs decode(job) on a decode thread and returns when it is done.
  void run(Job& job) {
    Task task{&job};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!started_) start();
      queue_.push_back(&task);
    }
    ready_.notify_one();
    std::unique_lock<std::mutex> lock(task.mutex);
    task.done_cv.wait(lock, [&task] { return task.done; });
  }

 private:
  struct Task {
    Job* job;
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
  };

  void start() {
    started_ = true;
    // The threads run this library's code: keep it loaded for the life of the process. Node unloads an addon when the
    // last environment that loaded it ends, and when only worker threads load it, their end would unmap the code the
    // decode threads are waiting in.
    Dl_info self;
    if (dladdr(reinterpret_cast<void*>(&register_jpeg), &self) != 0 && self.dli_fname != nullptr) dlopen(self.dli_fname, RTLD_NOW | RTLD_NODELETE);
    cpu_set_t set;
    CPU_ZERO(&set);
    const int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : static_cast<int>(std::thread::hardware_concurrency());
    const char* text = std::getenv("CONVKIT_DECODE_NICE");
    const int nice = text == nullptr || *text == 0 ? 10 : std::atoi(text);
    for (int i = 0; i < std::max(1, cpus); ++i) std::thread([this, nice] { loop(nice); }).detach();
  }

  void loop(int nice) {
    if (nice > 0) {
      const id_t tid = static_cast<id_t>(syscall(SYS_gettid));
      errno = 0;
      const int current = getpriority(PRIO_PROCESS, tid);
      if (errno == 0) setpriority(PRIO_PROCESS, tid, std::min(19, current + nice));
    }
    for (;;) {
      Task* task = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [this] { return !queue_.empty(); });
        task = queue_.front();
        queue_.pop_front();
      }
      decode_guarded(*task->job);
      // Notified under the lock: once the waiting thread can return (and free the task), this one no longer uses it.
      std::lock_guard<std::mutex> lock(task->mutex);
      task->done = true;
      task->done_cv.notify_one();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Task*> queue_;
  bool started_ = false;
};

// libuv's work function: the decode, on a decode thread.
void execute(napi_env, void* data) { DecodePool::instance().run(*static_cast<Job*>(data)); }

napi_value throw_type_error(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

bool is_absent(napi_env env, napi_value value) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  return type == napi_null || type == napi_undefined;
}

// The data of `value` when it is a typed array of `type` (and, when `length` is not null, its length), else null.
void* typed_data(napi_env env, napi_value value, napi_typedarray_type type, size_t* length) {
  bool typed = false;
  napi_is_typedarray(env, value, &typed);
  if (!typed) return nullptr;
  napi_typedarray_type actual;
  size_t count = 0;
  void* data = nullptr;
  napi_get_typedarray_info(env, value, &actual, &count, &data, nullptr, nullptr);
  if (actual != type) return nullptr;
  if (length != nullptr) *length = count;
  return data;
}

// decodeJpeg(input: Uint8Array | path, scale: 1..8 (0: fit the resize), warp: Float64Array [a, b, c, d, e, f, width,
//            height, fill] | null, resizeWidth, resizeHeight, colour: Float64Array(15) | null, into: Float32Array | null,
//            intoOffset, intoScale, refuseIccProfile)
// The JavaScript wrapper (src/index.ts) checks the options and names them in its errors; these checks guard memory.
napi_value DecodeJpeg(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 10) return throw_type_error(env, "decodeJpeg: expected 10 arguments");
  auto job = std::make_unique<Job>();
  napi_valuetype input_type;
  napi_typeof(env, argv[0], &input_type);
  if (input_type == napi_string) {
    size_t length = 0;
    napi_get_value_string_utf8(env, argv[0], nullptr, 0, &length);
    job->path.resize(length + 1);
    napi_get_value_string_utf8(env, argv[0], job->path.data(), length + 1, &length);
    job->path.resize(length);
    if (job->path.empty()) return throw_type_error(env, "decodeJpeg: the path is empty");
  } else {
    job->bytes = static_cast<const uint8_t*>(typed_data(env, argv[0], napi_uint8_array, &job->size));
    if (job->bytes == nullptr) return throw_type_error(env, "decodeJpeg: input must be a Uint8Array or a path");
  }
  if (napi_get_value_int32(env, argv[1], &job->scale) != napi_ok || job->scale < 0 || job->scale > 8) {
    return throw_type_error(env, "decodeJpeg: scale must be an integer from 1 to 8, or 0 (fit the resize)");
  }
  bool refuse_icc = false;
  napi_get_value_bool(env, argv[9], &refuse_icc);
  job->refuse_icc = refuse_icc;
  if (!is_absent(env, argv[2])) {
    size_t length = 0;
    const auto* w = static_cast<const double*>(typed_data(env, argv[2], napi_float64_array, &length));
    if (w == nullptr || length != 9 || !(w[6] >= 1 && w[6] <= 65535 && w[7] >= 1 && w[7] <= 65535 && w[8] >= 0 && w[8] <= 255)) {
      return throw_type_error(env, "decodeJpeg: warp must be a Float64Array [a, b, c, d, e, f, width 1-65535, height 1-65535, fill 0-255] or null");
    }
    std::copy(w, w + 6, job->warp.m);
    job->warp.width = static_cast<int>(w[6]);
    job->warp.height = static_cast<int>(w[7]);
    job->warp.fill = static_cast<int>(w[8]);
    job->has_warp = true;
  }
  napi_get_value_int32(env, argv[3], &job->resize_width);
  napi_get_value_int32(env, argv[4], &job->resize_height);
  if (job->resize_width != 0 || job->resize_height != 0) {
    if (job->has_warp || job->resize_width < 1 || job->resize_width > 65535 || job->resize_height < 1 || job->resize_height > 65535) {
      return throw_type_error(env, "decodeJpeg: resize width and height must be 1 to 65535, and not with a warp");
    }
  } else if (job->scale == 0) {
    return throw_type_error(env, "decodeJpeg: scale 0 (fit) needs a resize");
  }
  if (!is_absent(env, argv[5])) {
    size_t length = 0;
    const auto* colour = static_cast<const double*>(typed_data(env, argv[5], napi_float64_array, &length));
    if (colour == nullptr || length != 15) return throw_type_error(env, "decodeJpeg: colour must be a Float64Array of 15 numbers or null");
    std::copy(colour, colour + 15, job->colour);
    job->has_colour = true;
  }
  if (!is_absent(env, argv[6])) {
    size_t length = 0;
    auto* into = static_cast<float*>(typed_data(env, argv[6], napi_float32_array, &length));
    int64_t offset = -1;
    napi_get_value_int64(env, argv[7], &offset);
    napi_get_value_double(env, argv[8], &job->into_scale);
    // The output's size: the warp's or the resize's (unknown until the header is read otherwise: refused).
    const int64_t values = job->has_warp ? static_cast<int64_t>(job->warp.width) * job->warp.height * 3
                           : job->resize_width > 0 ? static_cast<int64_t>(job->resize_width) * job->resize_height * 3 : -1;
    if (into == nullptr || values < 0 || offset < 0 || offset + values > static_cast<int64_t>(length)) {
      return throw_type_error(env, "decodeJpeg: into must be a Float32Array with room for the warp's or the resize's values from its offset");
    }
    job->into = into + offset;
    napi_create_reference(env, argv[6], 1, &job->into_ref);
  } else if (job->has_colour) {
    return throw_type_error(env, "decodeJpeg: colour needs into");
  }
  napi_value promise, name;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "convkit:decodeJpeg", NAPI_AUTO_LENGTH, &name);
  if (job->path.empty()) napi_create_reference(env, argv[0], 1, &job->bytes_ref);
  Job* owned = job.release();  // deleted by complete()
  napi_create_async_work(env, nullptr, name, execute, complete, owned, &owned->work);
  napi_queue_async_work(env, owned->work);
  return promise;
}

}  // namespace

void register_jpeg(napi_env env, napi_value exports) {
  napi_property_descriptor property = {"decodeJpeg", nullptr, DecodeJpeg, nullptr, nullptr, nullptr, napi_default, nullptr};
  napi_define_properties(env, exports, 1, &property);
}

#else

void register_jpeg(napi_env, napi_value) {}

#endif
