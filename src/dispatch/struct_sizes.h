/* Where each version of the dispatch API's structs with more than one version ends, for
 * their eng_x_init and the readers that fill them (ENG__SIZES in base/error.h). */
#ifndef ENG_DISPATCH_STRUCT_SIZES_H
#define ENG_DISPATCH_STRUCT_SIZES_H

#include "engage/dispatch.h"
#include "base/error.h"

#define ENG__TRACE_SIZES ENG__SIZES(ENG__UPTO(eng_trace, state), sizeof(eng_trace))
#define ENG__EXECUTION_INFO_SIZES ENG__SIZES(ENG__UPTO(eng_execution_info, reason), sizeof(eng_execution_info))
#define ENG__PREVIEW_SIZES ENG__SIZES(ENG__UPTO(eng_preview, sender), sizeof(eng_preview))
#define ENG__DRY_REPORT_SIZES ENG__SIZES(ENG__UPTO(eng_dry_report, skipped), sizeof(eng_dry_report))

#endif
