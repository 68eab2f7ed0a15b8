/* What the other layers ask of a compiled rule beyond engage/rules.h. */
#ifndef ENG_RULES_LINK_H
#define ENG_RULES_LINK_H

#include "engage/rules.h"

#include <stddef.h>

/* 1 when the rule reads field @p i of the schema it was compiled against (a
 * batch needs only those columns: the others are never checked or read). */
int eng__rule_reads(const eng_rule *r, size_t i);

#endif
