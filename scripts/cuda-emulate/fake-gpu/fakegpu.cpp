// A fake GPU for Kiln's CUDA backend (written by the ninth session's helpers; run by scripts/cuda-emulate/run-cuda-tests): the CUDA runtime,
// driver, NVRTC, cuBLAS, cuBLASLt and cuDNN entry points Kiln calls, on host memory (device pointers are host
// pointers), LD_PRELOADed over the real libraries. NVRTC "compiles" a source with g++ through Kiln's
// scripts/cuda-emulate/cuda_shim.h (kernelgen.py, cached by hash under $FAKEGPU_CACHE); the "cubin" names the .so, which
// cuModuleLoadData dlopens; cuLaunchKernel runs the kernel's grid on the CPU. The stream is deferred: copies, memsets, kernels, cuBLAS/cuDNN work are queued (their host scalars, descriptors
// and kernel arguments read at the call, as the real libraries do; a pageable host source copied at the call) and run
// only when something waits for them: cudaStreamSynchronize (everything), cudaEventSynchronize (up to the event),
// cudaFree/cudaFreeHost and copies into pageable host memory (everything); pinned (cudaMallocHost) host memory is
// read or written when the copy runs. So host code that reuses a pinned buffer, or reads a result, before waiting
// sees what a GPU could give it. FAKEGPU_SYNC=1 runs everything at the call instead. A kernel's failure is sticky
// and reported at the next wait (719, as a GPU's).
// FAKEGPU_LOG=1 logs every call. Build: g++ -O2 -std=c++17 -shared -fPIC -o libkilnfakegpu.so fakegpu.cpp -ldl -lpthread
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <math.h>
#include <dlfcn.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>
extern char **environ;
static int logOn = -1;
static int logging(void) { if (logOn < 0) logOn = getenv("FAKEGPU_LOG") != NULL; return logOn; }
#define LOG(...) do { if (logging()) { fprintf(stderr, "[fakegpu] " __VA_ARGS__); fputc('\n', stderr); fflush(stderr); } } while (0)
#define ERR(...) do { fprintf(stderr, "[fakegpu] ERROR: " __VA_ARGS__); fputc('\n', stderr); fflush(stderr); } while (0)
typedef void *P;
#include <deque>
#include <memory>
#include <functional>
#include <mutex>
#include <vector>
#include <climits>
extern "C" {
static std::recursive_mutex qlock;
static std::deque<std::function<int()>> Q;
static long enqueued, executed;
static int sticky;
static int deferred(void) { static int d = -1; if (d < 0) d = getenv("FAKEGPU_SYNC") == NULL; return d; }
static void enqueue(std::function<int()> f) {
  std::lock_guard<std::recursive_mutex> g(qlock);
  if (!deferred()) { int r = f(); if (r && !sticky) sticky = r; return; }
  Q.push_back(std::move(f)); enqueued++; }
static int runUntil(long seq) {
  std::lock_guard<std::recursive_mutex> g(qlock);
  while (executed < seq && !Q.empty()) { std::function<int()> f = std::move(Q.front()); Q.pop_front(); int r = f(); executed++; if (r && !sticky) sticky = r; }
  return sticky; }
static int flush(void) { return runUntil(LONG_MAX); }
static std::vector<std::pair<char *, size_t>> pinned;
static int isPinned(const void *p, size_t n) {
  std::lock_guard<std::recursive_mutex> g(qlock);
  for (auto &r : pinned) if ((const char *)p >= r.first && (const char *)p + n <= r.first + r.second) return 1;
  return 0; }
#define ENQ(...) enqueue([=]() mutable -> int { __VA_ARGS__ })
// ---------------- runtime
int cudaGetDeviceCount(int *c) { LOG("cudaGetDeviceCount(count=%p) -> writes 1", (P)c); *c = 1; return 0; }
int cudaSetDevice(int d) { LOG("cudaSetDevice(%d)", d); return 0; }
int cudaGetDeviceProperties(char *prop, int d) {
  LOG("cudaGetDeviceProperties(prop=%p, %d)", (P)prop, d);
  memset(prop, 0, 1008); strcpy(prop, "Stub H100");
  *(size_t *)(prop + 288) = 80ULL << 30; *(int *)(prop + 360) = 9; *(int *)(prop + 364) = 0; *(int *)(prop + 384) = 132;
  return 0;
}
int cudaStreamCreateWithFlags(P *s, unsigned f) { LOG("cudaStreamCreateWithFlags(pStream=%p, flags=%u) -> *pStream=0x5151000", (P)s, f); *s = (P)0x5151000; return 0; }
int cudaStreamSynchronize(P s) { LOG("cudaStreamSynchronize(%p) runs %ld queued", s, enqueued - executed); return flush(); }
typedef struct { long seq; } Ev;
int cudaEventCreateWithFlags(P *e, unsigned f) { *e = calloc(1, sizeof(Ev)); LOG("cudaEventCreateWithFlags(pEvent=%p, flags=%u) -> %p", (P)e, f, *e); return 0; }
int cudaEventRecord(P e, P s) { std::lock_guard<std::recursive_mutex> g(qlock); ((Ev *)e)->seq = enqueued; LOG("cudaEventRecord(%p, stream %p) at %ld", e, s, enqueued); return 0; }
int cudaEventSynchronize(P e) { LOG("cudaEventSynchronize(%p) up to %ld (%ld run)", e, ((Ev *)e)->seq, executed); return runUntil(((Ev *)e)->seq); }
int cudaMallocHost(P *p, size_t n) { *p = aligned_alloc(4096, (n + 4095) / 4096 * 4096); { std::lock_guard<std::recursive_mutex> g(qlock); pinned.push_back({(char *)*p, n}); } LOG("cudaMallocHost(pp=%p, %zu) -> %p", (P)p, n, *p); return 0; }
int cudaFreeHost(P p) { LOG("cudaFreeHost(%p)", p); flush(); std::lock_guard<std::recursive_mutex> g(qlock);
  for (size_t i = 0; i < pinned.size(); i++) if (pinned[i].first == p) { pinned.erase(pinned.begin() + i); break; }
  free(p); return 0; }
static int failNextMalloc;
int cudaMalloc(P *p, size_t n) {
  if (getenv("STUB_OOM") && failNextMalloc++ == 0) { LOG("cudaMalloc(pp=%p, %zu) -> out of memory (2)", (P)p, n); return 2; }
  size_t sz = (n + 255) / 256 * 256; *p = aligned_alloc(256, sz ? sz : 256);
  for (size_t i = 0; i < sz / 4; i++) ((uint32_t *)*p)[i] = 0x7FA5A5A5u; // garbage, as cudaMalloc's: reads as NaN
  LOG("cudaMalloc(pp=%p, %zu) -> %p", (P)p, n, *p); return 0; }
int cudaFree(P p) { LOG("cudaFree(%p)", p); flush(); free(p); return 0; }
int cudaGetLastError(void) { LOG("cudaGetLastError()"); return 0; }
const char *cudaGetErrorString(int e) { return "stub error string"; }
int cudaMemcpyAsync(P d, const void *s, size_t n, int kind, P st) {
  LOG("cudaMemcpyAsync(dst=%p, src=%p, %zu bytes, kind %d, stream %p)", d, s, n, kind, st);
  if (kind < 1 || kind > 3) { ERR("cudaMemcpyAsync: kind %d not emulated", kind); return 1; }
  if (kind == 1 && !isPinned(s, n)) { std::shared_ptr<std::vector<char>> copy = std::make_shared<std::vector<char>>((const char *)s, (const char *)s + n);
    ENQ(memcpy(d, copy->data(), n); return 0;); return 0; }
  if (kind == 2 && !isPinned(d, n)) { int r = flush(); if (r) return r; memcpy(d, s, n); return 0; }
  ENQ(memcpy(d, s, n); return 0;); return 0; }
int cudaMemcpy2DAsync(P d, size_t dp, const void *s, size_t sp, size_t w, size_t h, int kind, P st) {
  LOG("cudaMemcpy2DAsync(dst=%p, dpitch=%zu, src=%p, spitch=%zu, width=%zu, height=%zu, kind %d, stream %p)", d, dp, s, sp, w, h, kind, st);
  if (kind != 3) { ERR("cudaMemcpy2DAsync: only device to device emulated"); return 1; }
  ENQ(for (size_t r = 0; r < h; r++) memcpy((char *)d + r * dp, (const char *)s + r * sp, w); return 0;); return 0; }
int cudaMemsetAsync(P d, int v, size_t n, P st) { LOG("cudaMemsetAsync(%p, %d, %zu, stream %p)", d, v, n, st); ENQ(memset(d, v, n); return 0;); return 0; }
int cudaMemGetInfo(size_t *f, size_t *t) { LOG("cudaMemGetInfo(%p, %p) -> 1234567, 7654321", (P)f, (P)t); *f = 1234567; *t = 7654321; return 0; }
// ---------------- NVRTC: the source is compiled for the CPU (kernelgen.py); the "cubin" names the .so
static pthread_mutex_t launchLock = PTHREAD_MUTEX_INITIALIZER;
static char here[4096];
static const char *fakeDir(void) {
  if (!here[0]) { Dl_info i; dladdr((void *)fakeDir, &i); strncpy(here, i.dli_fname, sizeof here - 1); char *sl = strrchr(here, '/'); if (sl) *sl = 0; else strcpy(here, "."); }
  return here; }
typedef struct { char *src, *name, *so, *log; } Prog;
static uint64_t fnv(uint64_t h, const char *s, size_t n) { for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ULL; } return h; }
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb"); if (!f) return NULL; fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
  char *b = malloc(n + 1); n = (long)fread(b, 1, n, f); b[n] = 0; fclose(f); if (len) *len = n; return b; }
int nvrtcCreateProgram(Prog **prog, const char *src, const char *name, int nh, const char *const *h, const char *const *in) {
  LOG("nvrtcCreateProgram(%s, %zu chars, %d headers)", name ? name : "(null)", strlen(src), nh);
  Prog *p = calloc(1, sizeof(Prog)); p->src = strdup(src); p->name = strdup(name ? name : "default_program"); *prog = p; return 0; }
int nvrtcCompileProgram(Prog *p, int n, const char *const *opts) {
  for (int i = 0; i < n; i++) LOG("nvrtcCompileProgram(%s) option %s", p->name, opts[i]);
  char path[8192], shim[8192], gen[8192], dir[8192];
  // scripts/cuda-emulate/run-cuda-tests sets these; the defaults are beside the built .so
  const char *e;
  if ((e = getenv("FAKEGPU_SHIM"))) snprintf(shim, sizeof shim, "%s", e); else snprintf(shim, sizeof shim, "%s/cuda_shim.h", fakeDir());
  if ((e = getenv("FAKEGPU_KERNELGEN"))) snprintf(gen, sizeof gen, "%s", e); else snprintf(gen, sizeof gen, "%s/kernelgen.py", fakeDir());
  if ((e = getenv("FAKEGPU_CACHE"))) snprintf(dir, sizeof dir, "%s", e); else snprintf(dir, sizeof dir, "%s/cache", fakeDir());
  mkdir(dir, 0777);
  size_t ls = 0, lg = 0; char *st = slurp(shim, &ls), *gt = slurp(gen, &lg);
  uint64_t h = fnv(1469598103934665603ULL, p->src, strlen(p->src)); if (st) h = fnv(h, st, ls); if (gt) h = fnv(h, gt, lg);
  const char *contract = getenv("KILN_EMU_CONTRACT"); if (contract) h = fnv(h, contract, strlen(contract));
  free(st); free(gt);
  snprintf(path, sizeof path, "%s/%016llx.so", dir, (unsigned long long)h);
  free(p->so); p->so = strdup(path);
  if (access(path, R_OK) == 0) { LOG("nvrtcCompileProgram(%s) -> cached %s", p->name, path); return 0; }
  char cu[8300], logf[8300]; snprintf(cu, sizeof cu, "%s/%016llx.cu", dir, (unsigned long long)h); snprintf(logf, sizeof logf, "%s/%016llx.log", dir, (unsigned long long)h);
  FILE *f = fopen(cu, "w"); fputs(p->src, f); fclose(f);
  char cmd[30000]; snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' '%s' > '%s' 2>&1", gen, cu, path, logf);
  char *argv[] = {"/bin/sh", "-c", cmd, NULL}; pid_t pid; int status = -1;
  if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) != 0 || waitpid(pid, &status, 0) < 0) { ERR("cannot run %s", gen); return 6; }
  free(p->log); p->log = slurp(logf, NULL);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { ERR("g++ could not compile %s (%s): %s", p->name, cu, p->log ? p->log : ""); return 6; }
  LOG("nvrtcCompileProgram(%s) -> compiled %s", p->name, path); return 0; }
static const char MAGIC[] = "KILNFAKE:";
int nvrtcGetCUBINSize(Prog *p, size_t *n) { if (!p->so) return 5; *n = strlen(MAGIC) + strlen(p->so) + 1; return 0; }
int nvrtcGetCUBIN(Prog *p, char *b) { if (!p->so) return 5; strcpy(b, MAGIC); strcat(b, p->so); return 0; }
int nvrtcGetPTXSize(Prog *p, size_t *n) { return nvrtcGetCUBINSize(p, n); }
int nvrtcGetPTX(Prog *p, char *b) { return nvrtcGetCUBIN(p, b); }
int nvrtcGetProgramLogSize(Prog *p, size_t *n) { *n = (p->log ? strlen(p->log) : 0) + 1; return 0; }
int nvrtcGetProgramLog(Prog *p, char *b) { strcpy(b, p->log ? p->log : ""); return 0; }
int nvrtcDestroyProgram(Prog **pp) { Prog *p = *pp; if (p) { free(p->src); free(p->name); free(p->so); free(p->log); free(p); } *pp = NULL; return 0; }
const char *nvrtcGetErrorString(int r) { return r == 0 ? "NVRTC_SUCCESS" : r == 6 ? "NVRTC_ERROR_COMPILATION (fake: g++ failed)" : "fake nvrtc error"; }
int nvrtcVersion(int *major, int *minor) { *major = 13; *minor = 1; return 0; }
// ---------------- driver
typedef struct { int (*launch)(int, int, int, void **); void *(*capture)(void **); int (*run)(int, int, int, void *); int arity; char name[256]; } Fn;
int cuModuleLoadData(P *m, const void *img) {
  const char *s = img;
  if (strncmp(s, MAGIC, strlen(MAGIC)) != 0) { ERR("cuModuleLoadData: an image not made by the fake NVRTC"); return 200; }
  void *h = dlopen(s + strlen(MAGIC), RTLD_NOW | RTLD_LOCAL);
  if (!h) { ERR("cuModuleLoadData: %s", dlerror()); return 200; }
  LOG("cuModuleLoadData(%s) -> %p", s + strlen(MAGIC), h); *m = h; return 0; }
int cuModuleGetFunction(P *f, P m, const char *name) {
  char sym[300]; snprintf(sym, sizeof sym, "kiln_fake_launch_%s", name);
  void *l = dlsym(m, sym); snprintf(sym, sizeof sym, "kiln_fake_arity_%s", name); int (*ar)(void) = dlsym(m, sym);
  if (!l || !ar) { ERR("cuModuleGetFunction: no kernel %s", name); return 500; }
  Fn *fn = (Fn *)calloc(1, sizeof(Fn)); fn->launch = (int (*)(int, int, int, void **))l; fn->arity = ar();
  snprintf(sym, sizeof sym, "kiln_fake_capture_%s", name); fn->capture = (void *(*)(void **))dlsym(m, sym);
  snprintf(sym, sizeof sym, "kiln_fake_run_%s", name); fn->run = (int (*)(int, int, int, void *))dlsym(m, sym);
  if (!fn->capture || !fn->run) { ERR("cuModuleGetFunction: no capture/run for %s", name); return 500; } strncpy(fn->name, name, sizeof fn->name - 1);
  LOG("cuModuleGetFunction(%s) -> %p (%d parameters)", name, (P)fn, fn->arity); *f = fn; return 0; }
static long launches;
int cuLaunchKernel(P f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned sh, P st, void **kp, void **ex) {
  Fn *fn = f;
  LOG("cuLaunchKernel(%s, grid %ux%ux%u, block %ux%ux%u, shared %u, stream %p)", fn->name, gx, gy, gz, bx, by, bz, sh, st);
  if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || gx > 2147483647u || gy > 65535 || gz > 65535 || (size_t)bx * by * bz > 1024 || bx > 1024 || by > 1024 || bz > 64) {
    ERR("cuLaunchKernel(%s): invalid launch configuration grid %ux%ux%u block %ux%ux%u", fn->name, gx, gy, gz, bx, by, bz); return 1; }
  if (gz != 1 || by != 1 || bz != 1) { ERR("cuLaunchKernel(%s): the fake runs 2-d grids of 1-d blocks only", fn->name); return 1; }
  if (sh) { ERR("cuLaunchKernel(%s): dynamic shared memory (%u bytes) not emulated", fn->name, sh); return 1; }
  if (ex) { ERR("cuLaunchKernel(%s): extra given", fn->name); return 1; }
  if (fn->arity && !kp) { ERR("cuLaunchKernel(%s): kernelParams NULL for %d parameters", fn->name, fn->arity); return 1; }
  for (int i = 0; i < fn->arity; i++) if (!kp[i]) { ERR("cuLaunchKernel(%s): kernelParams[%d] NULL", fn->name, i); return 1; }
  void *cap = fn->capture(kp);
  ENQ(pthread_mutex_lock(&launchLock); int r = fn->run((int)gx, (int)gy, (int)bx, cap); launches++; pthread_mutex_unlock(&launchLock);
      if (r) { ERR("kernel %s: the threads of a block passed different numbers of __syncthreads", fn->name); return 719; } return 0;);
  return 0; }
int cuGetErrorString(int e, const char **s) { LOG("cuGetErrorString(%d, pStr=%p)", e, (P)s); *s = "stub driver error"; return 0; }
// ---------------- cuBLAS (column-major, host)
int cublasCreate_v2(P *h) { LOG("cublasCreate_v2(pH=%p) -> 0xB1A5000", (P)h); *h = (P)0xB1A5000; return 0; }
int cublasSetStream_v2(P h, P s) { LOG("cublasSetStream_v2(%p, %p)", h, s); return 0; }
int cublasSetMathMode(P h, int m) { LOG("cublasSetMathMode(%p, %d)", h, m); return 0; }
int cublasSetPointerMode_v2(P h, int m) { LOG("cublasSetPointerMode_v2(%p, %d)", h, m); return 0; }
const char *cublasGetStatusString(int s) { return "stub cublas status"; }
#define AT(M, i, j, ld) (M)[(size_t)(j) * (ld) + (i)]
int cublasSgemm_v2(P h, int ta, int tb, int m, int n, int k, const float *al, const float *A, int lda, const float *B, int ldb, const float *be, float *C, int ldc) {
  LOG("cublasSgemm_v2(%p, ta %d, tb %d, m %d, n %d, k %d, alpha=%p(%g), A=%p lda %d, B=%p ldb %d, beta=%p(%g), C=%p ldc %d)", h, ta, tb, m, n, k, (P)al, *al, (P)A, lda, (P)B, ldb, (P)be, *be, (P)C, ldc);
  float al_v = *al; float be_v = *be;
  ENQ( float *al = &al_v; float *be = &be_v;
  for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) { double s = 0;
    for (int p = 0; p < k; p++) s += (double)(ta ? AT(A, p, i, lda) : AT(A, i, p, lda)) * (tb ? AT(B, j, p, ldb) : AT(B, p, j, ldb));
    AT(C, i, j, ldc) = (float)(*al * s + (*be == 0 ? 0 : *be * AT(C, i, j, ldc))); }
  return 0; 
  );
  return 0; }
int cublasSgemmStridedBatched(P h, int ta, int tb, int m, int n, int k, const float *al, const float *A, int lda, long long sA, const float *B, int ldb, long long sB, const float *be, float *C, int ldc, long long sC, int count) {
  LOG("cublasSgemmStridedBatched(%p, ta %d, tb %d, m %d, n %d, k %d, alpha=%p(%g), A=%p lda %d stride %lld, B=%p ldb %d stride %lld, beta=%p(%g), C=%p ldc %d stride %lld, count %d)", h, ta, tb, m, n, k, (P)al, *al, (P)A, lda, sA, (P)B, ldb, sB, (P)be, *be, (P)C, ldc, sC, count);
  float al_v = *al; float be_v = *be;
  ENQ( float *al = &al_v; float *be = &be_v;
  for (int q = 0; q < count; q++) { const float *Aq = A + q * sA; const float *Bq = B + q * sB; float *Cq = C + q * sC;
  for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) { double s = 0;
    for (int p = 0; p < k; p++) s += (double)(ta ? AT(Aq, p, i, lda) : AT(Aq, i, p, lda)) * (tb ? AT(Bq, j, p, ldb) : AT(Bq, p, j, ldb));
    AT(Cq, i, j, ldc) = (float)(*al * s + (*be == 0 ? 0 : *be * AT(Cq, i, j, ldc))); } }
  return 0; 
  );
  return 0; }
int cublasSger_v2(P h, int m, int n, const float *al, const float *x, int incx, const float *y, int incy, float *A, int lda) {
  LOG("cublasSger_v2(%p, m %d, n %d, alpha=%p(%g), x=%p %d, y=%p %d, A=%p lda %d)", h, m, n, (P)al, *al, (P)x, incx, (P)y, incy, (P)A, lda);
  float al_v = *al;
  ENQ( float *al = &al_v;
  for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) AT(A, i, j, lda) += *al * x[i * incx] * y[j * incy]; return 0; 
  );
  return 0; }
int cublasSgemv_v2(P h, int t, int m, int n, const float *al, const float *A, int lda, const float *x, int incx, const float *be, float *y, int incy) {
  LOG("cublasSgemv_v2(%p, t %d, m %d, n %d, alpha=%p(%g), A=%p lda %d, x=%p %d, beta=%p(%g), y=%p %d)", h, t, m, n, (P)al, *al, (P)A, lda, (P)x, incx, (P)be, *be, (P)y, incy);
  float al_v = *al; float be_v = *be;
  ENQ( float *al = &al_v; float *be = &be_v;
  if (t) { for (int j = 0; j < n; j++) { double s = 0; for (int i = 0; i < m; i++) s += AT(A, i, j, lda) * x[i * incx]; y[j * incy] = (float)(*al * s + (*be == 0 ? 0 : *be * y[j * incy])); } return 0; }
  for (int i = 0; i < m; i++) { double s = 0; for (int j = 0; j < n; j++) s += AT(A, i, j, lda) * x[j * incx]; y[i * incy] = (float)(*al * s + (*be == 0 ? 0 : *be * y[i * incy])); }
  return 0; 
  );
  return 0; }
int cublasSscal_v2(P h, int n, const float *al, float *x, int inc) { LOG("cublasSscal_v2(%p, %d, alpha=%p(%g), x=%p, %d)", h, n, (P)al, *al, (P)x, inc);
  float al_v = *al;
  ENQ( float *al = &al_v; for (int i = 0; i < n; i++) x[i * inc] *= *al; return 0; 
  );
  return 0; }
// ---------------- cuBLASLt
typedef struct { int ta, tb; unsigned epi; const float *bias; int compute, scale; } Desc;
typedef struct { int type; uint64_t rows, cols; int64_t ld; } Layout;
int cublasLtCreate(P *h) { LOG("cublasLtCreate(pH=%p) -> 0x17000", (P)h); *h = (P)0x17000; return 0; }
int cublasLtMatmulDescCreate(Desc **d, int compute, int scale) { *d = calloc(1, sizeof(Desc)); (*d)->compute = compute; (*d)->scale = scale; LOG("cublasLtMatmulDescCreate(pDesc=%p, compute %d, scale %d) -> %p", (P)d, compute, scale, (P)*d); return 0; }
int cublasLtMatmulDescSetAttribute(Desc *d, int attr, const void *buf, size_t size) {
  uint64_t v = size == 4 ? *(const uint32_t *)buf : size == 8 ? *(const uint64_t *)buf : 0xdead;
  LOG("cublasLtMatmulDescSetAttribute(%p, attr %d, buf=%p, size %zu) value=0x%llx", (P)d, attr, buf, size, (unsigned long long)v);
  if (attr == 3) d->ta = (int)v; else if (attr == 4) d->tb = (int)v; else if (attr == 7) d->epi = (unsigned)v; else if (attr == 8) d->bias = (const float *)(uintptr_t)v;
  return 0; }
int cublasLtMatrixLayoutCreate(Layout **l, int type, uint64_t r, uint64_t c, int64_t ld) { *l = calloc(1, sizeof(Layout)); **l = (Layout){type, r, c, ld}; LOG("cublasLtMatrixLayoutCreate(pL=%p, type %d, rows %llu, cols %llu, ld %lld) -> %p", (P)l, type, (unsigned long long)r, (unsigned long long)c, (long long)ld, (P)*l); return 0; }
int cublasLtMatmulPreferenceCreate(P *p) { *p = malloc(64); LOG("cublasLtMatmulPreferenceCreate(pP=%p) -> %p", (P)p, *p); return 0; }
int cublasLtMatmulPreferenceSetAttribute(P p, int attr, const void *buf, size_t size) { LOG("cublasLtMatmulPreferenceSetAttribute(%p, attr %d, size %zu) value=%llu", p, attr, size, (unsigned long long)*(const uint64_t *)buf); return 0; }
int cublasLtMatmulPreferenceDestroy(P p) { LOG("cublasLtMatmulPreferenceDestroy(%p)", p); free(p); return 0; }
int cublasLtMatmulAlgoGetHeuristic(P h, Desc *d, Layout *a, Layout *b, Layout *c, Layout *dd, P pref, int req, char *res, int *ret) {
  LOG("cublasLtMatmulAlgoGetHeuristic(h %p, desc %p, A %p, B %p, C %p, D %p, pref %p, req %d, results=%p, pRet=%p) -> 1 algo", h, (P)d, (P)a, (P)b, (P)c, (P)dd, pref, req, (P)res, (P)ret);
  memset(res, 0, 96 * req); for (int i = 0; i < 8; i++) ((uint64_t *)res)[i] = 0xA160000000000000ULL + i; *(size_t *)(res + 64) = 4096; *(int *)(res + 72) = 0; *ret = 1; return 0; }
int cublasLtMatmul(P h, Desc *d, const float *al, const float *A, Layout *la, const float *B, Layout *lb, const float *be, const float *C, Layout *lc, float *D, Layout *ld,
                   const uint64_t *algo, void *ws, size_t wsb, P st) {
  LOG("cublasLtMatmul(h %p, desc %p, alpha=%p(%g), A=%p, B=%p, beta=%p(%g), C=%p, D=%p, algo=%p [0x%llx..0x%llx], ws=%p, %zu, stream %p) ta %d tb %d epi %u bias %p",
      h, (P)d, (P)al, *al, (P)A, (P)B, (P)be, *be, (P)C, (P)D, (P)algo, (unsigned long long)algo[0], (unsigned long long)algo[7], ws, wsb, st, d->ta, d->tb, d->epi, (P)d->bias);
  float al_v = *al; float be_v = *be; Desc d_v = *d; Layout la_v = *la; Layout lb_v = *lb; Layout lc_v = *lc; Layout ld_v = *ld;
  ENQ( float *al = &al_v; float *be = &be_v; Desc *d = &d_v; Layout *la = &la_v; Layout *lb = &lb_v; Layout *lc = &lc_v; Layout *ld = &ld_v;
  int m = (int)ld->rows, n = (int)ld->cols, k = (int)(d->ta ? la->rows : la->cols);
  for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) { double s = 0;
    for (int p = 0; p < k; p++) s += (double)(d->ta ? AT(A, p, i, la->ld) : AT(A, i, p, la->ld)) * (d->tb ? AT(B, j, p, lb->ld) : AT(B, p, j, lb->ld));
    float v = (float)(*al * s); if ((d->epi & 4) && d->bias) v += d->bias[i]; if ((d->epi & 2) && v < 0) v = 0;
    if (*be != 0) v += *be * AT(C, i, j, lc->ld); AT(D, i, j, ld->ld) = v; }
  return 0; 
  );
  return 0; }
// ---------------- cuDNN (NCHW float, host)
typedef struct { int n, c, h, w; } Tensor;
typedef struct { int k, c, h, w; } Filter;
typedef struct { int ph, pw, sh, sw, dh, dw, mode, type, math, groups; } Conv;
int cudnnCreate(P *h) { LOG("cudnnCreate(pH=%p) -> 0xD00000", (P)h); *h = (P)0xD00000; return 0; }
int cudnnSetStream(P h, P s) { LOG("cudnnSetStream(%p, %p)", h, s); return 0; }
const char *cudnnGetErrorString(int s) { return "stub cudnn status"; }
int cudnnCreateTensorDescriptor(Tensor **t) { *t = calloc(1, sizeof(Tensor)); LOG("cudnnCreateTensorDescriptor(pT=%p) -> %p", (P)t, (P)*t); return 0; }
int cudnnSetTensor4dDescriptor(Tensor *t, int fmt, int type, int n, int c, int h, int w) { LOG("cudnnSetTensor4dDescriptor(%p, fmt %d, type %d, %d %d %d %d)", (P)t, fmt, type, n, c, h, w); *t = (Tensor){n, c, h, w}; return fmt == 0 && type == 0 ? 0 : 3; }
int cudnnCreateFilterDescriptor(Filter **f) { *f = calloc(1, sizeof(Filter)); LOG("cudnnCreateFilterDescriptor(pF=%p) -> %p", (P)f, (P)*f); return 0; }
int cudnnSetFilter4dDescriptor(Filter *f, int type, int fmt, int k, int c, int h, int w) { LOG("cudnnSetFilter4dDescriptor(%p, type %d, fmt %d, %d %d %d %d)", (P)f, type, fmt, k, c, h, w); *f = (Filter){k, c, h, w}; return fmt == 0 && type == 0 ? 0 : 3; }
int cudnnCreateConvolutionDescriptor(Conv **c) { *c = calloc(1, sizeof(Conv)); LOG("cudnnCreateConvolutionDescriptor(pC=%p) -> %p", (P)c, (P)*c); return 0; }
int cudnnSetConvolution2dDescriptor(Conv *c, int ph, int pw, int sh, int sw, int dh, int dw, int mode, int type) { LOG("cudnnSetConvolution2dDescriptor(%p, pad %d %d, stride %d %d, dil %d %d, mode %d, type %d)", (P)c, ph, pw, sh, sw, dh, dw, mode, type); *c = (Conv){ph, pw, sh, sw, dh, dw, mode, type, 0, 1}; return 0; }
int cudnnSetConvolutionGroupCount(Conv *c, int g) { LOG("cudnnSetConvolutionGroupCount(%p, %d)", (P)c, g); if (g < 1) return 3; c->groups = g; return 0; }
// input channel of filter channel ci for output channel o (groups split both channel counts evenly)
#define GIN(c, yd, wd, o, ci) ((o) / ((yd)->c / ((c)->groups > 0 ? (c)->groups : 1)) * (wd)->c + (ci))
int cudnnSetConvolutionMathType(Conv *c, int m) { LOG("cudnnSetConvolutionMathType(%p, %d)", (P)c, m); c->math = m; return 0; }
int cudnnGetConvolution2dForwardOutputDim(Conv *c, Tensor *x, Filter *f, int *n, int *ch, int *h, int *w) {
  *n = x->n; *ch = f->k; *h = (x->h + 2 * c->ph - c->dh * (f->h - 1) - 1) / c->sh + 1; *w = (x->w + 2 * c->pw - c->dw * (f->w - 1) - 1) / c->sw + 1;
  LOG("cudnnGetConvolution2dForwardOutputDim(%p, %p, %p, n=%p c=%p h=%p w=%p) -> %d %d %d %d", (P)c, (P)x, (P)f, (P)n, (P)ch, (P)h, (P)w, *n, *ch, *h, *w); return 0; }
static int perf(const char *what, int req, int *ret, char *p) {
  LOG("cudnnGet%sAlgorithm_v7(req %d, pRet=%p, perf=%p) -> 3 results", what, req, (P)ret, (P)p);
  // algo 5: workspace too big; algo 6 TF32 (math 1); algo 2: FMA (math 2), 777 bytes
  int algos[3] = {5, 6, 2}; size_t mem[3] = {(size_t)3 << 30, 100, 777}; int math[3] = {3, 1, 3};
  memset(p, 0, 48 * req);
  for (int i = 0; i < 3; i++) { char *e = p + 48 * i; *(int *)e = algos[i]; *(int *)(e + 4) = 0; *(size_t *)(e + 16) = mem[i]; *(int *)(e + 28) = math[i]; }
  *ret = 3; return 0; }
int cudnnGetConvolutionForwardAlgorithm_v7(P h, P x, P w, P c, P y, int req, int *ret, char *p) { return perf("ConvolutionForward", req, ret, p); }
int cudnnGetConvolutionBackwardDataAlgorithm_v7(P h, P w, P dy, P c, P dx, int req, int *ret, char *p) { return perf("ConvolutionBackwardData", req, ret, p); }
int cudnnGetConvolutionBackwardFilterAlgorithm_v7(P h, P x, P dy, P c, P dw, int req, int *ret, char *p) { return perf("ConvolutionBackwardFilter", req, ret, p); }
int cudnnGetConvolutionForwardWorkspaceSize(P h, P x, P w, P c, P y, int algo, size_t *s) { LOG("cudnnGetConvolutionForwardWorkspaceSize(algo %d, pSize=%p) -> 1000+algo", algo, (P)s); *s = 1000 + algo; return 0; }
int cudnnGetConvolutionBackwardDataWorkspaceSize(P h, P w, P dy, P c, P dx, int algo, size_t *s) { LOG("cudnnGetConvolutionBackwardDataWorkspaceSize(algo %d, pSize=%p) -> 2000+algo", algo, (P)s); *s = 2000 + algo; return 0; }
int cudnnGetConvolutionBackwardFilterWorkspaceSize(P h, P x, P dy, P c, P dw, int algo, size_t *s) { LOG("cudnnGetConvolutionBackwardFilterWorkspaceSize(algo %d, pSize=%p) -> 0", algo, (P)s); *s = 0; return 0; }
#define T4(P_, T_, A_, B_, C_, D_) (P_)[(((size_t)(A_) * (T_)->c + (B_)) * (T_)->h + (C_)) * (T_)->w + (D_)]
int cudnnConvolutionForward(P h, const float *al, Tensor *xd, const float *x, Filter *wd, const float *w, Conv *c, int algo, P ws, size_t wsb, const float *be, Tensor *yd, float *y) {
  LOG("cudnnConvolutionForward(h %p, alpha=%p(%g), x=%p, w=%p, conv %p math %d, algo %d, ws=%p, %zu, beta=%p(%g), y=%p)", h, (P)al, *al, (P)x, (P)w, (P)c, c->math, algo, ws, wsb, (P)be, *be, (P)y);
  float al_v = *al; float be_v = *be; Tensor xd_v = *xd; Filter wd_v = *wd; Conv c_v = *c; Tensor yd_v = *yd;
  ENQ( float *al = &al_v; float *be = &be_v; Tensor *xd = &xd_v; Filter *wd = &wd_v; Conv *c = &c_v; Tensor *yd = &yd_v;
  for (int n = 0; n < yd->n; n++) for (int o = 0; o < yd->c; o++) for (int i = 0; i < yd->h; i++) for (int j = 0; j < yd->w; j++) { double s = 0;
    for (int ci = 0; ci < wd->c; ci++) for (int a = 0; a < wd->h; a++) for (int b = 0; b < wd->w; b++) {
      int yy = i * c->sh - c->ph + a * c->dh, xx = j * c->sw - c->pw + b * c->dw; if (yy < 0 || xx < 0 || yy >= xd->h || xx >= xd->w) continue;
      s += T4(x, xd, n, GIN(c, yd, wd, o, ci), yy, xx) * w[(((size_t)o * wd->c + ci) * wd->h + a) * wd->w + b]; }
    float *out = &T4(y, yd, n, o, i, j); *out = (float)(*al * s + (*be == 0 ? 0 : *be * *out)); }
  return 0; 
  );
  return 0; }
#define FIDX(wd, o, ci, a, b) ((((size_t)(o) * (wd)->c + (ci)) * (wd)->h + (a)) * (wd)->w + (b))
static int convShapesOk(const char *what, Tensor *xd, Filter *wd, Conv *c, Tensor *yd) {
  int oh = (xd->h + 2 * c->ph - c->dh * (wd->h - 1) - 1) / c->sh + 1, ow = (xd->w + 2 * c->pw - c->dw * (wd->w - 1) - 1) / c->sw + 1;
  int g = c->groups > 0 ? c->groups : 1;
  if (xd->n != yd->n || xd->c != wd->c * g || yd->c != wd->k || yd->c % g != 0 || yd->h != oh || yd->w != ow || c->dh < 1 || c->dw < 1) {
    ERR("%s: x [%d %d %d %d] w [%d %d %d %d] y [%d %d %d %d] do not fit (pad %d %d stride %d %d dil %d %d)", what, xd->n, xd->c, xd->h, xd->w,
        wd->k, wd->c, wd->h, wd->w, yd->n, yd->c, yd->h, yd->w, c->ph, c->pw, c->sh, c->sw, c->dh, c->dw); return 0; }
  return 1; }
int cudnnConvolutionBackwardData(P h, const float *al, Filter *wd, const float *w, Tensor *yd, const float *dy, Conv *c, int algo, P ws, size_t wsb, const float *be, Tensor *xd, float *dx) {
  LOG("cudnnConvolutionBackwardData(h %p, alpha=%p(%g), w=%p, dy=%p, conv %p, algo %d, ws=%p, %zu, beta=%p(%g), dx=%p)", h, (P)al, *al, (P)w, (P)dy, (P)c, algo, ws, wsb, (P)be, *be, (P)dx);
  float al_v = *al; float be_v = *be; Filter wd_v = *wd; Tensor yd_v = *yd; Conv c_v = *c; Tensor xd_v = *xd;
  ENQ( float *al = &al_v; float *be = &be_v; Filter *wd = &wd_v; Tensor *yd = &yd_v; Conv *c = &c_v; Tensor *xd = &xd_v;
  if (!convShapesOk("cudnnConvolutionBackwardData", xd, wd, c, yd)) return 3;
  size_t nx = (size_t)xd->n * xd->c * xd->h * xd->w; double *acc = calloc(nx, sizeof(double));
  for (int n = 0; n < yd->n; n++) for (int o = 0; o < yd->c; o++) for (int i = 0; i < yd->h; i++) for (int j = 0; j < yd->w; j++) {
    double g = T4(dy, yd, n, o, i, j);
    for (int ci = 0; ci < wd->c; ci++) for (int a = 0; a < wd->h; a++) for (int b = 0; b < wd->w; b++) {
      int yy = i * c->sh - c->ph + a * c->dh, xx = j * c->sw - c->pw + b * c->dw; if (yy < 0 || xx < 0 || yy >= xd->h || xx >= xd->w) continue;
      T4(acc, xd, n, GIN(c, yd, wd, o, ci), yy, xx) += g * w[FIDX(wd, o, ci, a, b)]; } }
  for (size_t i = 0; i < nx; i++) dx[i] = (float)(*al * acc[i] + (*be == 0 ? 0 : *be * dx[i]));
  free(acc); return 0; 
  );
  return 0; }
int cudnnConvolutionBackwardFilter(P h, const float *al, Tensor *xd, const float *x, Tensor *yd, const float *dy, Conv *c, int algo, P ws, size_t wsb, const float *be, Filter *wd, float *dw) {
  LOG("cudnnConvolutionBackwardFilter(h %p, alpha=%p(%g), x=%p, dy=%p, conv %p, algo %d, ws=%p, %zu, beta=%p(%g), dw=%p)", h, (P)al, *al, (P)x, (P)dy, (P)c, algo, ws, wsb, (P)be, *be, (P)dw);
  float al_v = *al; float be_v = *be; Tensor xd_v = *xd; Tensor yd_v = *yd; Conv c_v = *c; Filter wd_v = *wd;
  ENQ( float *al = &al_v; float *be = &be_v; Tensor *xd = &xd_v; Tensor *yd = &yd_v; Conv *c = &c_v; Filter *wd = &wd_v;
  if (!convShapesOk("cudnnConvolutionBackwardFilter", xd, wd, c, yd)) return 3;
  for (int o = 0; o < wd->k; o++) for (int ci = 0; ci < wd->c; ci++) for (int a = 0; a < wd->h; a++) for (int b = 0; b < wd->w; b++) { double s = 0;
    for (int n = 0; n < yd->n; n++) for (int i = 0; i < yd->h; i++) for (int j = 0; j < yd->w; j++) {
      int yy = i * c->sh - c->ph + a * c->dh, xx = j * c->sw - c->pw + b * c->dw; if (yy < 0 || xx < 0 || yy >= xd->h || xx >= xd->w) continue;
      s += (double)T4(x, xd, n, GIN(c, yd, wd, o, ci), yy, xx) * T4(dy, yd, n, o, i, j); }
    float *out = &dw[FIDX(wd, o, ci, a, b)]; *out = (float)(*al * s + (*be == 0 ? 0 : *be * *out)); }
  return 0; 
  );
  return 0; }
int cudnnAddTensor(P h, const float *al, Tensor *ad, const float *a, const float *be, Tensor *cd, float *cc) {
  LOG("cudnnAddTensor(h %p, alpha=%p(%g), aDesc %p [%d %d %d %d], A=%p, beta=%p(%g), cDesc %p, C=%p)", h, (P)al, *al, (P)ad, ad->n, ad->c, ad->h, ad->w, (P)a, (P)be, *be, (P)cd, (P)cc);
  float al_v = *al; float be_v = *be; Tensor ad_v = *ad; Tensor cd_v = *cd;
  ENQ( float *al = &al_v; float *be = &be_v; Tensor *ad = &ad_v; Tensor *cd = &cd_v;
  for (int n = 0; n < cd->n; n++) for (int o = 0; o < cd->c; o++) for (int i = 0; i < cd->h * cd->w; i++) { float *v = &cc[((size_t)n * cd->c + o) * cd->h * cd->w + i]; *v = *be * *v + *al * a[o]; }
  return 0; 
  );
  return 0; }
int cudnnConvolutionBackwardBias(P h, const float *al, Tensor *dyd, const float *dy, const float *be, Tensor *dbd, float *db) {
  LOG("cudnnConvolutionBackwardBias(h %p, alpha=%p(%g), dy=%p, beta=%p(%g), db=%p)", h, (P)al, *al, (P)dy, (P)be, *be, (P)db);
  float al_v = *al; float be_v = *be; Tensor dyd_v = *dyd; Tensor dbd_v = *dbd;
  ENQ( float *al = &al_v; float *be = &be_v; Tensor *dyd = &dyd_v; Tensor *dbd = &dbd_v;
  if (dbd->n != 1 || dbd->c != dyd->c || dbd->h != 1 || dbd->w != 1) { ERR("cudnnConvolutionBackwardBias: db [%d %d %d %d] for dy C %d", dbd->n, dbd->c, dbd->h, dbd->w, dyd->c); return 3; }
  for (int o = 0; o < dyd->c; o++) { double s = 0;
    for (int n = 0; n < dyd->n; n++) for (int i = 0; i < dyd->h * dyd->w; i++) s += dy[((size_t)n * dyd->c + o) * dyd->h * dyd->w + i];
    db[o] = (float)(*al * s + (*be == 0 ? 0 : *be * db[o])); }
  return 0; 
  );
  return 0; }
}  // extern "C"
