/* lipcl — export macro and version numbers.
 * Every public symbol is declared with LIP_API; the library builds with hidden visibility. */
#ifndef LIPCL_EXPORT_H
#define LIPCL_EXPORT_H

#if defined(_WIN32) && defined(LIPCL_SHARED_BUILD)
#define LIP_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define LIP_API __attribute__((visibility("default")))
#else
#define LIP_API
#endif

#define LIP_VERSION_MAJOR 0
#define LIP_VERSION_MINOR 1
#define LIP_VERSION_PATCH 0
#define LIP_VERSION_NUMBER (LIP_VERSION_MAJOR * 10000 + LIP_VERSION_MINOR * 100 + LIP_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/** The library's version as "MAJOR.MINOR.PATCH" (static string, never NULL). */
LIP_API const char *lip_version_string(void);
/** The library's version as LIP_VERSION_NUMBER of the build that is linked. */
LIP_API unsigned lip_version_number(void);

#ifdef __cplusplus
}
#endif
#endif
