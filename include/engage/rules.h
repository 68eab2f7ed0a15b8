/**
 * @file engage/rules.h
 * @brief The rules area of the public API (see docs/architecture.md).
 */
#ifndef ENGAGE_RULES_H
#define ENGAGE_RULES_H

#include "common.h"

ENG_BEGIN_DECLS

ENG_END_DECLS

#endif
