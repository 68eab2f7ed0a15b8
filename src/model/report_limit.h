/* How many approved messages one campaign report measures: the model refuses the
 * approval past it (approval.c), the report sizes its per-message state by it
 * (measure). One figure for both, so an approved campaign is always reportable. */
#ifndef ENG_MODEL_REPORT_LIMIT_H
#define ENG_MODEL_REPORT_LIMIT_H

#define ENG__REPORT_MAX_MESSAGES 256

#endif
