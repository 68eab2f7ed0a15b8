/**
 * @file engage.h
 * @brief libengage: the campaign engine of a marketing suite as an embeddable C library.
 *
 * Include this one header; it includes every public area under engage/.
 */
#ifndef ENGAGE_H
#define ENGAGE_H

#include "engage/version.h"
#include "engage/common.h"
#include "engage/errors.h"
#include "engage/alloc.h"
#include "engage/store.h"
#include "engage/channel.h"
#include "engage/transport.h"
#include "engage/engine.h"
#include "engage/rules.h"
#include "engage/model.h"
#include "engage/audience.h"
#include "engage/events.h"
#include "engage/dispatch.h"
#include "engage/coupon.h"
#include "engage/measure.h"
#include "engage/privacy.h"

#endif /* ENGAGE_H */
