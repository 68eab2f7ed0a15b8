/* Initialisers of the rules API's caller-filled structs (engage/rules.h). */
#include "rules/rules_impl.h"

ENG_API int eng_rule_batch_init(eng_rule_batch *x, unsigned int version)
{
    static const eng_rule_batch init = ENG_RULE_BATCH_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(ENG__UPTO(eng_rule_batch, ncolumns), sizeof init), version,
                            "eng_rule_batch");
}
