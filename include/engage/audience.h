/**
 * @file engage/audience.h
 * @brief The audience area of the public API (see docs/architecture.md).
 */
#ifndef ENGAGE_AUDIENCE_H
#define ENGAGE_AUDIENCE_H

#include "common.h"

ENG_BEGIN_DECLS

ENG_END_DECLS

#endif
