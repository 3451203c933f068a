//go:build cgo

package blas

/*
#cgo LDFLAGS: -ldl
#cgo noescape arp_sgemm
#cgo nocallback arp_sgemm
#cgo noescape arp_dgemm
#cgo nocallback arp_dgemm
#cgo noescape arp_sgemv
#cgo nocallback arp_sgemv
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

// The library is reached only through dlopen/dlsym, so building needs no
// BLAS headers or libraries. CBLAS enums are passed as ints with the
// standard values (CblasRowMajor=101, CblasNoTrans=111, CblasTrans=112);
// integers are 32-bit (LP64 interface, as in Debian's libopenblas0).

static void *arp_open(const char *name, int newns, char *err, size_t errlen) {
	void *h;
	dlerror();
	if (newns)
		h = dlmopen(LM_ID_NEWLM, name, RTLD_NOW | RTLD_LOCAL);
	else
		h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		strncpy(err, e ? e : "dlopen failed", errlen - 1);
		err[errlen - 1] = 0;
	}
	return h;
}

// arp_resident reports whether name is already loaded in the default
// namespace; opening it again would then not rerun its initialisation.
static int arp_resident(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
	if (h == NULL)
		return 0;
	dlclose(h);
	return 1;
}

static void *arp_sym(void *h, const char *s) { return dlsym(h, s); }
static int arp_close(void *h) { return dlclose(h); }

static const char *arp_file(void *sym) {
	Dl_info info;
	if (dladdr(sym, &info) && info.dli_fname)
		return info.dli_fname;
	return NULL;
}

typedef void (*arp_sgemm_t)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef void (*arp_dgemm_t)(int, int, int, int, int, int, double, const double *, int, const double *, int, double, double *, int);
typedef void (*arp_sgemv_t)(int, int, int, int, float, const float *, int, const float *, int, float, float *, int);

static void arp_sgemm(void *f, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
	((arp_sgemm_t)f)(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void arp_dgemm(void *f, int ta, int tb, int m, int n, int k, double alpha, const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc) {
	((arp_dgemm_t)f)(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void arp_sgemv(void *f, int ta, int m, int n, float alpha, const float *a, int lda, const float *x, int incx, float beta, float *y, int incy) {
	((arp_sgemv_t)f)(101, ta ? 112 : 111, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

static void arp_setint(void *f, int v) { ((void (*)(int))f)(v); }
static int arp_getint(void *f) { return ((int (*)(void))f)(); }
static const char *arp_getstr(void *f) { return ((const char *(*)(void))f)(); }
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"unsafe"
)

// cblasLib is one loaded copy of a CBLAS library.
type cblasLib struct {
	name    string // as asked for
	file    string // as the dynamic linker found it
	handle  unsafe.Pointer
	sgemmF  unsafe.Pointer
	dgemmF  unsafe.Pointer
	sgemvF  unsafe.Pointer // may be nil: gonum is used instead
	setThr  unsafe.Pointer // openblas_set_num_threads, nil for other libraries
	config  string
	core    string
	newNS   bool // loaded into its own linker namespace with dlmopen
	openBLA bool
}

const maxInt32 = math.MaxInt32

// threadTimeout is the OPENBLAS_THREAD_TIMEOUT the library is loaded with
// unless the environment sets one: idle OpenBLAS workers poll for 2^16 TSC
// cycles (about 25 µs at 2.6 GHz) before sleeping, instead of OpenBLAS's default 2^28
// (about 0.1 s). The long default leaves a worker spinning for a tenth of a
// second after every multi-threaded GEMM, taking CPU from the goroutines
// that run the engine's other kernels; measured here, it used 25-30 ms of
// CPU in the 50 ms after a GEMM, against 0.1 ms with this setting. The
// price is a wake-up (a futex call, microseconds on an idle machine) at the
// start of a multi-threaded GEMM that follows a pause.
const threadTimeout = "16"

// openLib loads name with OPENBLAS_CORETYPE=core (core == "" leaves the
// environment alone). single loads a single-threaded copy
// (OPENBLAS_NUM_THREADS=1, so no thread pool is started). A library
// already resident in the process, or a single copy, is loaded into a new
// linker namespace with dlmopen, which gives a fresh, independent copy
// initialised under the environment set here. The environment is restored
// afterwards, so child processes do not inherit the settings. With mu held.
func openLib(name, core string, single bool) (*cblasLib, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	newNS := single || C.arp_resident(cname) != 0

	restore := setenvTemp("OPENBLAS_CORETYPE", core, core != "")
	restoreThreads := setenvTemp("OPENBLAS_NUM_THREADS", "1", single)
	_, userTimeout := os.LookupEnv("OPENBLAS_THREAD_TIMEOUT")
	restoreTimeout := setenvTemp("OPENBLAS_THREAD_TIMEOUT", threadTimeout, !single && !userTimeout)
	var errbuf [512]C.char
	h := C.arp_open(cname, boolInt(newNS), &errbuf[0], C.size_t(len(errbuf)))
	restoreTimeout()
	restoreThreads()
	restore()
	if h == nil {
		err := errors.New(C.GoString(&errbuf[0]))
		if newNS {
			// The file exists (it is resident or was found before), but a
			// further copy could not be made; glibc has room for about ten
			// linker namespaces per process.
			return nil, fmt.Errorf("loading a further copy with dlmopen: %w", err)
		}
		return nil, notFoundError{err}
	}
	lib := &cblasLib{name: name, handle: h, newNS: newNS}
	sym := func(s string) unsafe.Pointer {
		cs := C.CString(s)
		defer C.free(unsafe.Pointer(cs))
		return C.arp_sym(h, cs)
	}
	lib.sgemmF, lib.dgemmF, lib.sgemvF = sym("cblas_sgemm"), sym("cblas_dgemm"), sym("cblas_sgemv")
	if lib.sgemmF == nil || lib.dgemmF == nil {
		C.arp_close(h)
		return nil, errors.New("does not export cblas_sgemm and cblas_dgemm")
	}
	lib.file = name
	if f := C.arp_file(lib.sgemmF); f != nil {
		lib.file = C.GoString(f)
	}
	if f := sym("openblas_get_config"); f != nil {
		lib.openBLA = true
		lib.config = strings.TrimSpace(C.GoString(C.arp_getstr(f)))
	}
	if f := sym("openblas_get_corename"); f != nil {
		lib.core = strings.TrimSpace(C.GoString(C.arp_getstr(f)))
	}
	lib.setThr = sym("openblas_set_num_threads")
	return lib, nil
}

// rejected records, by the same keys as loaded, why a library copy was
// rejected, so it is not loaded again. With mu held.
var rejected = map[string]string{}

// notFoundError reports that a library could not be opened at all.
type notFoundError struct{ error }

// setenvTemp sets key=value when do is true and returns a function that
// restores the previous state.
func setenvTemp(key, value string, do bool) func() {
	if !do {
		return func() {}
	}
	old, had := os.LookupEnv(key)
	os.Setenv(key, value)
	return func() {
		if had {
			os.Setenv(key, old)
		} else {
			os.Unsetenv(key)
		}
	}
}

func (l *cblasLib) controlsThreads() bool { return l.setThr != nil }

func (l *cblasLib) close() { C.arp_close(l.handle) }

func (l *cblasLib) setThreads(n int) {
	if l != nil && l.setThr != nil {
		C.arp_setint(l.setThr, C.int(min(n, maxInt32)))
	}
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// loadFirst returns a backend for the first library in names that loads and
// passes the self-test, trying the core types of ARP_BLAS_CORETYPE=coretype
// in order. With mu held.
func loadFirst(names []string, coretype string) (*backend, error) {
	plan, notes := corePlan(coretype)
	var errs []string
	var lastNotFound error
	for _, name := range names {
		b, tried, err := loadLib(name, plan, notes)
		if err == nil {
			return b, nil
		}
		if tried {
			// Found but unusable: say why. Names that merely do not exist
			// are summarised below.
			errs = append(errs, err.Error())
		} else {
			lastNotFound = err
		}
		notes = nil // the core-type notes go with the first library only
	}
	if len(errs) == 0 {
		if len(names) == 1 {
			return nil, lastNotFound
		}
		return nil, fmt.Errorf("no CBLAS library found (tried %s and %d other names; last error: %v)", names[0], len(names)-1, lastNotFound)
	}
	return nil, errors.New(strings.Join(errs, "; "))
}

// loadLib loads one library with the first core type of plan that passes
// the self-test. tried reports whether the library was found at all.
func loadLib(name string, plan []coreAttempt, notes []string) (b *backend, tried bool, err error) {
	var fails []string
	for _, at := range plan {
		key := name + "\x00" + at.core
		if why, ok := rejected[key]; ok {
			// Failed its self-test before; loading it again would only
			// use up another linker namespace.
			tried = true
			fails = append(fails, why)
			continue
		}
		lib := loaded[key]
		if lib == nil {
			lib, err = openLib(name, at.core, false)
			if err != nil {
				var nf notFoundError
				if !tried && errors.As(err, &nf) {
					return nil, false, err
				}
				// Another core type will not help.
				return nil, true, fmt.Errorf("%s: %s", name, strings.Join(append(fails, err.Error()), "; "))
			}
			tried = true
			lib.setThreads(Threads())
			if err := selfTestFn(lib); err != nil {
				why := fmt.Sprintf("%s with core %s: %v", lib.file, lib.coreLabel(at), err)
				fails = append(fails, why)
				rejected[key] = why
				lib.close()
				continue
			}
			loaded[key] = lib
		} else {
			tried = true
			lib.setThreads(Threads())
		}
		info := Backend{
			Name:    "cblas",
			Library: lib.file,
			Config:  lib.config,
			Core:    lib.core,
			Notes:   append([]string(nil), notes...),
		}
		if lib.openBLA {
			info.Name = "openblas"
			if f := strings.Fields(lib.config); len(f) > 1 && strings.EqualFold(f[0], "OpenBLAS") {
				info.Version = f[1]
			}
		}
		for _, f := range fails {
			info.Notes = append(info.Notes, "rejected "+f)
		}
		if at.core != "" && lib.core != "" && !strings.EqualFold(at.core, lib.core) {
			info.Notes = append(info.Notes, fmt.Sprintf("asked for core %s (%s), library chose %s", at.core, at.why, lib.core))
		}
		b = &backend{multi: lib, single: lib, lib: lib, info: info}
		if lib.setThr != nil {
			// OpenBLAS threads are process-wide; a second copy set to one
			// thread serves SgemmSingle without touching the first's pool.
			skey := key + "\x00single"
			single := loaded[skey]
			if why, ok := rejected[skey]; ok {
				info.Notes = append(info.Notes, why)
			} else if single == nil {
				why := ""
				s, err := openLib(name, at.core, true)
				switch {
				case err != nil:
					why = err.Error()
				case s.core != lib.core:
					why = fmt.Sprintf("it chose core %s, not %s", s.core, lib.core)
					s.close()
				default:
					if err := selfTestFn(s); err != nil {
						why = err.Error()
						s.close()
					} else {
						single = s
						loaded[skey] = s
					}
				}
				if why != "" {
					why = "no single-threaded copy (SgemmSingle shares the main one): " + why
					rejected[skey] = why
					info.Notes = append(info.Notes, why)
				}
			}
			if single != nil {
				b.single = single
				info.SingleInstance = true
			}
		}
		b.info = info
		return b, true, nil
	}
	return nil, tried, fmt.Errorf("%s: %s", name, strings.Join(fails, "; "))
}

func (l *cblasLib) coreLabel(at coreAttempt) string {
	if at.core != "" {
		return at.core
	}
	if l.core != "" {
		return l.core + " (" + at.why + ")"
	}
	return at.why
}

// fitsInt32 reports whether all values fit the 32-bit integers of the CBLAS
// interface.
func fitsInt32(v ...int) bool {
	for _, x := range v {
		if x > maxInt32 {
			return false
		}
	}
	return true
}

func (l *cblasLib) sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !fitsInt32(m, n, k, lda, ldb, ldc) {
		pureGo{}.sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	C.arp_sgemm(l.sgemmF, boolInt(tA), boolInt(tB), C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(unsafe.SliceData(a))), C.int(lda),
		(*C.float)(unsafe.Pointer(unsafe.SliceData(b))), C.int(ldb), C.float(beta),
		(*C.float)(unsafe.Pointer(unsafe.SliceData(c))), C.int(ldc))
}

func (l *cblasLib) dgemm(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if !fitsInt32(m, n, k, lda, ldb, ldc) {
		pureGo{}.dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	C.arp_dgemm(l.dgemmF, boolInt(tA), boolInt(tB), C.int(m), C.int(n), C.int(k), C.double(alpha),
		(*C.double)(unsafe.Pointer(unsafe.SliceData(a))), C.int(lda),
		(*C.double)(unsafe.Pointer(unsafe.SliceData(b))), C.int(ldb), C.double(beta),
		(*C.double)(unsafe.Pointer(unsafe.SliceData(c))), C.int(ldc))
}

func (l *cblasLib) sgemv(tA bool, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	if l.sgemvF == nil || !fitsInt32(m, n, lda, incX, incY) {
		pureGo{}.sgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
		return
	}
	C.arp_sgemv(l.sgemvF, boolInt(tA), C.int(m), C.int(n), C.float(alpha),
		(*C.float)(unsafe.Pointer(unsafe.SliceData(a))), C.int(lda),
		(*C.float)(unsafe.Pointer(unsafe.SliceData(x))), C.int(incX), C.float(beta),
		(*C.float)(unsafe.Pointer(unsafe.SliceData(y))), C.int(incY))
}
