/* The multi-window, multi-burn-rate alert state machine of one SLO (Google SRE Workbook,
 * chapter 5): per tier, inactive -> firing when both windows burn above the tier's rate and the
 * long window has enough events to mean something, for the tier's alertAfter; firing ->
 * resolved when the short window cools below the rate; resolved -> firing again on the same
 * condition. The short window is what makes an alert stop soon after the errors do, while the
 * long window keeps a brief spike from paging. Pure function of the evaluations fed in: the
 * caller's clock drives it. */
#include "slo_int.h"

#include <assert.h>
#include <string.h>

const char *agg_slo_alert_state_name(enum agg_slo_alert_state s)
{
    switch (s) {
    case AGG_SLO_ALERT_INACTIVE:
        return "inactive";
    case AGG_SLO_ALERT_FIRING:
        return "firing";
    case AGG_SLO_ALERT_RESOLVED:
        return "resolved";
    }
    return "unknown";
}

void agg_slo_alerts_init(struct agg_slo_alerts *a)
{
    memset(a, 0, sizeof *a);
}

/* Both windows above the rate, on enough events. Strictly above: a tier's rate is the most the
 * SLO may burn at. */
static bool tier_burning(const struct agg_slo_def *d, const struct agg_slo_tier *t,
                         const struct agg_slo_burn *lw, const struct agg_slo_burn *sw)
{
    return lw->total >= d->min_events && lw->rate > t->burn_rate && sw->rate > t->burn_rate;
}

static void enter(struct agg_slo_alert *al, enum agg_slo_alert_state s, int64_t now,
                  const struct agg_slo_burn *lw, const struct agg_slo_burn *sw)
{
    al->state = s;
    al->since = now;
    al->long_rate = lw->rate;
    al->short_rate = sw->rate;
    al->long_total = lw->total;
    al->changed = true;
    al->pending_since = 0;
    if (s == AGG_SLO_ALERT_FIRING) {
        al->fired_at = now;
        al->resolved_at = 0;
        al->firings++;
    } else {
        al->resolved_at = now;
    }
}

static void tier_update(struct agg_slo_alert *al, const struct agg_slo_def *d,
                        const struct agg_slo_tier *t, const struct agg_slo_burn *lw,
                        const struct agg_slo_burn *sw, int64_t now)
{
    al->changed = false;
    if (al->state == AGG_SLO_ALERT_FIRING) {
        if (sw->rate < t->burn_rate)
            enter(al, AGG_SLO_ALERT_RESOLVED, now, lw, sw);
        return;
    }
    if (!tier_burning(d, t, lw, sw)) {
        al->pending_since = 0;
        return;
    }
    if (al->pending_since == 0)
        al->pending_since = now;
    if ((double)(now - al->pending_since) >= t->alert_after_s)
        enter(al, AGG_SLO_ALERT_FIRING, now, lw, sw);
}

int agg_slo_alerts_update(struct agg_slo_alerts *a, const struct agg_slo_def *d,
                          const struct agg_slo_status *status, int64_t now)
{
    assert(status->n_tiers == d->n_tiers && d->n_tiers <= AGG_SLO_TIERS_MAX);
    int changed = 0;
    a->n_tiers = d->n_tiers;
    for (size_t i = 0; i < d->n_tiers; i++) {
        tier_update(&a->tier[i], d, &d->tiers[i], &status->tier_long[i], &status->tier_short[i],
                    now);
        changed += a->tier[i].changed;
    }
    return changed;
}
