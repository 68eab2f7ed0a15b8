/* What the model layer asks of the audience layer when a message is approved:
 * resolve the message's audience exactly as the campaign will contact it and
 * freeze it (test and control sets with their SHA-256) under a key, inside the
 * caller's storage batch. */
#ifndef ENG_AUDIENCE_LINK_H
#define ENG_AUDIENCE_LINK_H

#include "engage/audience.h"

/* ENG_OK without writing anything when the engine's audience layer holds no
 * groups (the host keeps its audiences elsewhere); otherwise ENG_OK once frozen,
 * or the resolve/freeze error (ENG_ENOTFOUND for an unknown group). Call inside
 * eng__enter and an open batch. */
int eng__audience_freeze_query(eng_engine *e, const eng_audience_query *q, const char *key);

#endif
