/* Initialisers of the dispatch API's caller-versioned structs (engage/dispatch.h). */
#include "engage/dispatch.h"
#include "dispatch/struct_sizes.h"

#include <stddef.h>

ENG_API int eng_run_report_init(eng_run_report *x, unsigned int version)
{
    static const eng_run_report init = ENG_RUN_REPORT_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_run_report");
}

ENG_API int eng_execution_info_init(eng_execution_info *x, unsigned int version)
{
    static const eng_execution_info init = ENG_EXECUTION_INFO_INIT;
    return eng__struct_init(x, &init, ENG__EXECUTION_INFO_SIZES, version, "eng_execution_info");
}

ENG_API int eng_send_info_init(eng_send_info *x, unsigned int version)
{
    static const eng_send_info init = ENG_SEND_INFO_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_send_info");
}

ENG_API int eng_unsubscribe_info_init(eng_unsubscribe_info *x, unsigned int version)
{
    static const eng_unsubscribe_info init = ENG_UNSUBSCRIBE_INFO_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_unsubscribe_info");
}

ENG_API int eng_dry_report_init(eng_dry_report *x, unsigned int version)
{
    static const eng_dry_report init = ENG_DRY_REPORT_INIT;
    return eng__struct_init(x, &init, ENG__DRY_REPORT_SIZES, version, "eng_dry_report");
}

ENG_API int eng_trace_init(eng_trace *x, unsigned int version)
{
    static const eng_trace init = ENG_TRACE_INIT;
    return eng__struct_init(x, &init, ENG__TRACE_SIZES, version, "eng_trace");
}
