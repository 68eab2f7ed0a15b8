/* Initialisers of the events API's caller-versioned structs (engage/events.h). */
#include "engage/events.h"
#include "base/error.h"

ENG_API int eng_event_report_init(eng_event_report *x, unsigned int version)
{
    static const eng_event_report init = ENG_EVENT_REPORT_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_event_report");
}

ENG_API int eng_touch_row_init(eng_touch_row *x, unsigned int version)
{
    static const eng_touch_row init = ENG_TOUCH_ROW_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_touch_row");
}

ENG_API int eng_txn_row_init(eng_txn_row *x, unsigned int version)
{
    static const eng_txn_row init = ENG_TXN_ROW_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_txn_row");
}
