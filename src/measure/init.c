/* Initialisers of the measure API's caller-filled structs (engage/measure.h). */
#include "engage/measure.h"
#include "base/error.h"

ENG_API int eng_touch_columns_init(eng_touch_columns *x, unsigned int version)
{
    static const eng_touch_columns init = ENG_TOUCH_COLUMNS_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(ENG__UPTO(eng_touch_columns, time), sizeof init), version,
                            "eng_touch_columns");
}

ENG_API int eng_txn_columns_init(eng_txn_columns *x, unsigned int version)
{
    static const eng_txn_columns init = ENG_TXN_COLUMNS_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_txn_columns");
}

ENG_API int eng_report_figures_init(eng_report_figures *x, unsigned int version)
{
    static const eng_report_figures init = ENG_REPORT_FIGURES_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_report_figures");
}

ENG_API int eng_org_figures_init(eng_org_figures *x, unsigned int version)
{
    static const eng_org_figures init = ENG_ORG_FIGURES_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(sizeof init), version, "eng_org_figures");
}
