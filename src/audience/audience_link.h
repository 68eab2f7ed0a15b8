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

/* Whether the message's group reference @p name (a group name or decimal id)
 * names a group: ENG_OK, ENG_ENOTFOUND, or another error. *checked = 0 (and
 * ENG_OK) when the audience layer holds no groups (the host keeps its
 * audiences elsewhere), as for the freeze above. Call inside eng__enter. */
int eng__audience_group_known(eng_engine *e, const char *name, int *checked);

/* Compile a rule over customers (a personalization variant's rule) against the
 * customer columns filter groups see: ENG_OK, or the rules layer's error
 * (detail line:column, unknown fields with a did-you-mean). *checked = 0 when
 * the audience layer holds no columns and no customers (the host keeps them
 * elsewhere) and nothing was checked. Call inside eng__enter. */
int eng__audience_rule_check(eng_engine *e, const char *text, int *checked);

/* ---- what dispatch reads (view.c, getvalue.c); call inside eng__enter ---- */
struct eng__table;
typedef struct eng__customer_view_t {
    const struct eng__table *table; /* borrowed while the engine lock is held */
} eng__customer_view_t;
int eng__customer_view(eng_engine *e, eng__customer_view_t *out);
/* Contact on a channel, NULL when none. */
const char *eng__view_contact(const eng__customer_view_t *v, int ch, uint32_t id, size_t *len);
/* Channels of @p channels the customer is reachable on now. */
uint32_t eng__view_reach(const eng__customer_view_t *v, uint32_t id, uint32_t channels);
/* Why a customer is not reachable on @p ch now (0 when reachable). Values are stored: append only. */
enum { ENG__UNREACH_NO_CONTACT = 1, ENG__UNREACH_NO_CONSENT = 2, ENG__UNREACH_OPTED_OUT = 3,
       ENG__UNREACH_SUPPRESSED = 4 };
int eng__view_unreachable(const eng__customer_view_t *v, int ch, uint32_t id);
/* An attribute as text, in the import syntax (as eng_customer_get); *len 0 for NULL. */
int eng__customer_text(eng_engine *e, uint32_t id, const char *column, char *tmp, size_t cap, const char **src,
                       size_t *len);
/* Customers matching a rules expression over the customer columns. */
struct eng__idset;
int eng__audience_match_expr(eng_engine *e, const char *expr, struct eng__idset *out);

#endif
