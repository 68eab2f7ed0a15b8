/* What the layers above read of a message's X-Engage options, defined once in
 * model/message.c so that the check at save and the decision at run agree.
 * Narrow on purpose: model_impl.h is the model's whole inside. */
#ifndef ENG_MODEL_XENGAGE_OPTS_H
#define ENG_MODEL_XENGAGE_OPTS_H

#include "engage/message.h"

/* An X-Engage message's credits per unit of currency (eng_xengage_options version 2), 0 when not set. */
double eng__xengage_cpu(const eng_xengage_options *x);

#endif
