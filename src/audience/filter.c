/* Filter groups: the stored expression is evaluated over the customer
 * columns by the rules engine's column-batch evaluator. Until that engine is
 * part of the build, resolving a filter group fails cleanly. */
#include "audience/audience_impl.h"

int eng__filter_eval(eng__aud *a, const eng__group *g, eng__idset *out)
{
    (void)a;
    eng__idset_free(out);
    return eng__err(ENG_EUNSUPPORTED, g->name,
                    "filter group %u cannot be evaluated: the rules engine is not built in yet", g->id);
}
