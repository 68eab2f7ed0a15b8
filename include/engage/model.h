/**
 * @file engage/model.h
 * @brief The model area of the public API (see docs/architecture.md).
 */
#ifndef ENGAGE_MODEL_H
#define ENGAGE_MODEL_H

#include "common.h"

ENG_BEGIN_DECLS

ENG_END_DECLS

#endif
