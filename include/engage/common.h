/**
 * @file engage/common.h
 * @brief Export macros and basic types shared by every libengage header.
 */
#ifndef ENGAGE_COMMON_H
#define ENGAGE_COMMON_H

#include <stddef.h>
#include <stdint.h>

/** @cond INTERNAL */
#if defined(ENG_BUILDING) && defined(ENG_STATIC)
#  error "define at most one of ENG_BUILDING and ENG_STATIC"
#endif
#if defined(_WIN32) && !defined(ENG_STATIC)
#  ifdef ENG_BUILDING
#    define ENG_API __declspec(dllexport)
#  else
#    define ENG_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define ENG_API __attribute__((visibility("default")))
#else
#  define ENG_API
#endif

#ifdef __cplusplus
#  define ENG_BEGIN_DECLS extern "C" {
#  define ENG_END_DECLS }
#else
#  define ENG_BEGIN_DECLS
#  define ENG_END_DECLS
#endif
/** @endcond */

ENG_BEGIN_DECLS

/**
 * A point in time: milliseconds since 1970-01-01T00:00:00Z (UTC).
 * Every timestamp crossing the API uses this type.
 */
typedef int64_t eng_time;

/** One hour in #eng_time units. */
#define ENG_HOUR ((eng_time)3600 * 1000)
/** One day in #eng_time units. */
#define ENG_DAY ((eng_time)24 * ENG_HOUR)

/**
 * The engine: the root handle. Every other handle is made from one.
 * Created by eng_open(), released by eng_close().
 */
typedef struct eng_engine eng_engine;

/**
 * A storage backend handle, made by eng_store_memory_new(), eng_store_file_open()
 * or eng_store_new() and handed to eng_open(), which takes ownership of it.
 */
typedef struct eng_store eng_store;

/**
 * A byte buffer the library owns, filled by a host callback through eng_buf_set().
 * The host never frees or reallocates its contents.
 */
typedef struct eng_buf eng_buf;

ENG_END_DECLS

#endif /* ENGAGE_COMMON_H */
