/**
 * @file engage/validation.h
 * @brief Validation reports: every failure of a call at once, each with a code and a field path.
 *
 * Part of the campaign model (engage/model.h has the conventions common to it).
 */
#ifndef ENGAGE_VALIDATION_H
#define ENGAGE_VALIDATION_H

#include "common.h"

ENG_BEGIN_DECLS

/**
 * A validation report: every failure found, each with a code, a field path
 * (`org.settings.xengage_cost`, `campaign.end`, `message.creative[sms].body`, ...) and a message.
 * Owned by the caller; free with eng_validation_free(). It does not depend on
 * the engine and may be freed after eng_close().
 */
typedef struct eng_validation eng_validation;

/**
 * Number of failures in a report.
 * @param v a report, or NULL (0).
 * @return the count.
 */
ENG_API size_t eng_validation_count(const eng_validation *v);

/**
 * One failure of a report.
 * @param v the report.
 * @param i index below eng_validation_count().
 * @param code receives an #eng_code (may be NULL).
 * @param path receives the field path, valid while @p v lives (may be NULL).
 * @param message receives the text, valid while @p v lives (may be NULL).
 * @return #ENG_OK; #ENG_EMISUSE for a NULL or freed report; #ENG_ERANGE for a bad index.
 */
ENG_API int eng_validation_item(const eng_validation *v, size_t i, int *code, const char **path,
                                const char **message);

/**
 * Find the first failure with field path @p path.
 * @param v the report.
 * @param path the field path.
 * @return its code, or #ENG_OK if no failure has that path (also for a NULL @p v or @p path).
 */
ENG_API int eng_validation_find(const eng_validation *v, const char *path);

/**
 * Release a report.
 * @param v the report, or NULL.
 */
ENG_API void eng_validation_free(eng_validation *v);

ENG_END_DECLS

#endif /* ENGAGE_VALIDATION_H */
