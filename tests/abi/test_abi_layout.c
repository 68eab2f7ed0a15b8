/* The one place that locks the public ABI (LP64): the size of every public
 * struct and the offset of each of its fields (fields may only be appended, so
 * these numbers never change once released), that each eng_x_init() produces
 * exactly its ENG_X_INIT, and the values of the public enums.
 * tests/conventions/check_api.py fails when a public struct or field is missing here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "engage.h"

#define OFF(T, f, v) assert_int_equal(offsetof(T, f), (v))

static void struct_layouts(void **s)
{
    (void)s;
    if (sizeof(void *) != 8) {
        skip();
    }
    /* access.h */
    OFF(eng_actor_spec, version, 0); OFF(eng_actor_spec, id, 8); OFF(eng_actor_spec, roles, 16); OFF(eng_actor_spec, scope, 20); OFF(eng_actor_spec, units, 24); OFF(eng_actor_spec, n_units, 32);
    assert_int_equal(sizeof(eng_actor_spec), 40);
    /* alloc.h */
    OFF(eng_allocator, version, 0); OFF(eng_allocator, malloc_fn, 8); OFF(eng_allocator, realloc_fn, 16); OFF(eng_allocator, free_fn, 24); OFF(eng_allocator, user, 32);
    assert_int_equal(sizeof(eng_allocator), 40);
    /* approval.h */
    OFF(eng_model_event, version, 0); OFF(eng_model_event, kind, 4); OFF(eng_model_event, org, 8); OFF(eng_model_event, campaign, 16); OFF(eng_model_event, message, 24); OFF(eng_model_event, actor, 32); OFF(eng_model_event, comment, 40);
    assert_int_equal(sizeof(eng_model_event), 48);
    /* audience.h */
    OFF(eng_import_error, line, 0); OFF(eng_import_error, column, 8); OFF(eng_import_error, field, 16); OFF(eng_import_error, code, 24); OFF(eng_import_error, message, 32);
    assert_int_equal(sizeof(eng_import_error), 40);
    OFF(eng_import_options, version, 0); OFF(eng_import_options, on_error, 4); OFF(eng_import_options, max_bad_rows, 8); OFF(eng_import_options, max_field_bytes, 16); OFF(eng_import_options, error_fn, 24); OFF(eng_import_options, error_user, 32);
    OFF(eng_import_options, size_hint, 40);
    assert_int_equal(sizeof(eng_import_options), 48);
    OFF(eng_import_report, version, 0); OFF(eng_import_report, rows, 8); OFF(eng_import_report, inserted, 16); OFF(eng_import_report, updated, 24); OFF(eng_import_report, bad_rows, 32); OFF(eng_import_report, bytes, 40);
    assert_int_equal(sizeof(eng_import_report), 48);
    OFF(eng_erase_report, version, 0); OFF(eng_erase_report, requested, 8); OFF(eng_erase_report, erased, 16); OFF(eng_erase_report, not_found, 24);
    assert_int_equal(sizeof(eng_erase_report), 32);
    OFF(eng_consent_change, version, 0); OFF(eng_consent_change, channel, 4); OFF(eng_consent_change, kind, 8); OFF(eng_consent_change, given, 12); OFF(eng_consent_change, time, 16); OFF(eng_consent_change, recorded, 24); OFF(eng_consent_change, source, 32); OFF(eng_consent_change, actor, 40);
    assert_int_equal(sizeof(eng_consent_change), 48);
    OFF(eng_audience_query, version, 0); OFF(eng_audience_query, include, 8); OFF(eng_audience_query, n_include, 16); OFF(eng_audience_query, exclude, 24); OFF(eng_audience_query, n_exclude, 32); OFF(eng_audience_query, channels, 40); OFF(eng_audience_query, control_percent, 44); OFF(eng_audience_query, split_seed, 48); OFF(eng_audience_query, org, 56); OFF(eng_audience_query, campaign, 64);
    OFF(eng_audience_query, control_group, 72);
    assert_int_equal(sizeof(eng_audience_query), 80);
    OFF(eng_global_control, version, 0); OFF(eng_global_control, mode, 4); OFF(eng_global_control, percent, 8); OFF(eng_global_control, group, 12); OFF(eng_global_control, seed, 16);
    assert_int_equal(sizeof(eng_global_control), 24);
    /* audit.h */
    OFF(eng_audit_entry, version, 0); OFF(eng_audit_entry, seq, 8); OFF(eng_audit_entry, time, 16); OFF(eng_audit_entry, org, 24); OFF(eng_audit_entry, actor, 32); OFF(eng_audit_entry, object, 40); OFF(eng_audit_entry, action, 48); OFF(eng_audit_entry, state_hash, 56); OFF(eng_audit_entry, prev_hash, 64); OFF(eng_audit_entry, hash, 72);
    assert_int_equal(sizeof(eng_audit_entry), 80);
    /* campaign.h */
    OFF(eng_campaign_spec, version, 0); OFF(eng_campaign_spec, name, 8); OFF(eng_campaign_spec, start, 16); OFF(eng_campaign_spec, end, 24); OFF(eng_campaign_spec, unit, 32); OFF(eng_campaign_spec, type, 40); OFF(eng_campaign_spec, objective, 44); OFF(eng_campaign_spec, product_categories, 48); OFF(eng_campaign_spec, n_product_categories, 56); OFF(eng_campaign_spec, product_items, 64); OFF(eng_campaign_spec, n_product_items, 72); OFF(eng_campaign_spec, stores, 80); OFF(eng_campaign_spec, n_stores, 88); OFF(eng_campaign_spec, zones, 96); OFF(eng_campaign_spec, n_zones, 104); OFF(eng_campaign_spec, control_percent, 112); OFF(eng_campaign_spec, ga_account, 120); OFF(eng_campaign_spec, goal_mode, 128); OFF(eng_campaign_spec, goal, 136);
    OFF(eng_campaign_spec, control_group, 144);
    assert_int_equal(sizeof(eng_campaign_spec), 152);
    OFF(eng_campaign_status, version, 0); OFF(eng_campaign_status, id, 8); OFF(eng_campaign_status, created_by, 16); OFF(eng_campaign_status, goal_locked, 24); OFF(eng_campaign_status, messages, 32); OFF(eng_campaign_status, n_messages, 40);
    assert_int_equal(sizeof(eng_campaign_status), 48);
    /* dispatch.h */
    OFF(eng_run_options, version, 0); OFF(eng_run_options, message, 8); OFF(eng_run_options, max_batches, 16);
    OFF(eng_run_options, lease_ms, 24);
    assert_int_equal(sizeof(eng_run_options), 32);
    OFF(eng_run_report, version, 0); OFF(eng_run_report, executions, 8); OFF(eng_run_report, finished, 16); OFF(eng_run_report, refused, 24); OFF(eng_run_report, batches, 32); OFF(eng_run_report, sent, 40); OFF(eng_run_report, accepted, 48); OFF(eng_run_report, rejected, 56); OFF(eng_run_report, retry, 64); OFF(eng_run_report, unknown, 72); OFF(eng_run_report, expired, 80); OFF(eng_run_report, skipped, 88); OFF(eng_run_report, pending, 96); OFF(eng_run_report, next_due, 104); OFF(eng_run_report, blocked, 112);
    assert_int_equal(sizeof(eng_run_report), 120);
    OFF(eng_execution_info, version, 0); OFF(eng_execution_info, state, 4); OFF(eng_execution_info, due, 8); OFF(eng_execution_info, audience, 16); OFF(eng_execution_info, planned, 24); OFF(eng_execution_info, sends, 32); OFF(eng_execution_info, accepted, 40); OFF(eng_execution_info, rejected, 48); OFF(eng_execution_info, expired, 56); OFF(eng_execution_info, skipped, 64); OFF(eng_execution_info, unreachable, 72); OFF(eng_execution_info, credits, 80); OFF(eng_execution_info, reason, 88);
    OFF(eng_execution_info, points_awards, 344); OFF(eng_execution_info, points_awarded, 352); OFF(eng_execution_info, points_rejected, 360); OFF(eng_execution_info, points_expired, 368); OFF(eng_execution_info, points, 376);
    assert_int_equal(sizeof(eng_execution_info), 384);
    OFF(eng_send_info, version, 0); OFF(eng_send_info, state, 4); OFF(eng_send_info, attempts, 8); OFF(eng_send_info, next_at, 16); OFF(eng_send_info, key, 24);
    assert_int_equal(sizeof(eng_send_info), 152);
    OFF(eng_unsubscribe_info, version, 0); OFF(eng_unsubscribe_info, campaign, 8); OFF(eng_unsubscribe_info, customer, 16); OFF(eng_unsubscribe_info, channel, 20);
    assert_int_equal(sizeof(eng_unsubscribe_info), 24);
    OFF(eng_dry_report, version, 0); OFF(eng_dry_report, audience, 8); OFF(eng_dry_report, control, 16); OFF(eng_dry_report, contacted, 24); OFF(eng_dry_report, unreachable, 32); OFF(eng_dry_report, sends, 40); OFF(eng_dry_report, segments, 160); OFF(eng_dry_report, credits, 168); OFF(eng_dry_report, coupons, 176); OFF(eng_dry_report, skipped, 184); OFF(eng_dry_report, coupons_available, 320);
    assert_int_equal(sizeof(eng_dry_report), 328);
    OFF(eng_coupon_pool_info, version, 0); OFF(eng_coupon_pool_info, kind, 4); OFF(eng_coupon_pool_info, size, 8); OFF(eng_coupon_pool_info, assigned, 16); OFF(eng_coupon_pool_info, pattern, 24);
    assert_int_equal(sizeof(eng_coupon_pool_info), 96);
    OFF(eng_coupon_assignment, version, 0); OFF(eng_coupon_assignment, code, 4); OFF(eng_coupon_assignment, index, 72); OFF(eng_coupon_assignment, message, 80); OFF(eng_coupon_assignment, occurrence, 88); OFF(eng_coupon_assignment, at, 96);
    assert_int_equal(sizeof(eng_coupon_assignment), 104);
    OFF(eng_offer_spec, version, 0); OFF(eng_offer_spec, id, 8); OFF(eng_offer_spec, name, 16); OFF(eng_offer_spec, valid_from, 24); OFF(eng_offer_spec, valid_until, 32); OFF(eng_offer_spec, coupon_source, 40); OFF(eng_offer_spec, coupon_code, 48); OFF(eng_offer_spec, coupon_pool, 56);
    assert_int_equal(sizeof(eng_offer_spec), 64);
    OFF(eng_ad_manifest, version, 0); OFF(eng_ad_manifest, idempotency_key, 8); OFF(eng_ad_manifest, campaign, 16); OFF(eng_ad_manifest, message, 24); OFF(eng_ad_manifest, occurrence, 32); OFF(eng_ad_manifest, channel, 36); OFF(eng_ad_manifest, part, 40); OFF(eng_ad_manifest, count, 48); OFF(eng_ad_manifest, list_sha256, 56);
    assert_int_equal(sizeof(eng_ad_manifest), 128);
    OFF(eng_dispatch_hooks, version, 0); OFF(eng_dispatch_hooks, ad_export, 8); OFF(eng_dispatch_hooks, tiny_url, 16); OFF(eng_dispatch_hooks, rate_limit, 24); OFF(eng_dispatch_hooks, points, 88);
    assert_int_equal(sizeof(eng_dispatch_hooks), 96);
    OFF(eng_points_award, version, 0); OFF(eng_points_award, idempotency_key, 8); OFF(eng_points_award, org, 16); OFF(eng_points_award, campaign, 24); OFF(eng_points_award, message, 32); OFF(eng_points_award, occurrence, 40); OFF(eng_points_award, customer, 44); OFF(eng_points_award, points, 48); OFF(eng_points_award, expiry_days, 56); OFF(eng_points_award, attempt, 60); OFF(eng_points_award, expires_at, 64);
    assert_int_equal(sizeof(eng_points_award), 72);
    OFF(eng_tiny_url_request, version, 0); OFF(eng_tiny_url_request, idempotency_key, 8); OFF(eng_tiny_url_request, url, 16); OFF(eng_tiny_url_request, campaign, 24); OFF(eng_tiny_url_request, message, 32); OFF(eng_tiny_url_request, occurrence, 40); OFF(eng_tiny_url_request, customer, 44); OFF(eng_tiny_url_request, channel, 48);
    assert_int_equal(sizeof(eng_tiny_url_request), 56);
    OFF(eng_preview, version, 0); OFF(eng_preview, unreach, 4); OFF(eng_preview, segments, 8); OFF(eng_preview, cost, 16); OFF(eng_preview, body_len, 24); OFF(eng_preview, subject, 32); OFF(eng_preview, recipient, 544); OFF(eng_preview, sender, 800);
    OFF(eng_preview, rule, 868); OFF(eng_preview, variant, 872); OFF(eng_preview, variant_channel, 876); OFF(eng_preview, variant_dimension, 880); OFF(eng_preview, variant_rule, 884);
    assert_int_equal(sizeof(eng_preview), 1400);
    OFF(eng_trace, version, 0); OFF(eng_trace, reason, 4); OFF(eng_trace, rule, 8); OFF(eng_trace, detail, 12); OFF(eng_trace, variant, 16); OFF(eng_trace, channels, 20); OFF(eng_trace, unreach, 24); OFF(eng_trace, state, 84);
    OFF(eng_trace, xe_known, 144); OFF(eng_trace, xe_channel, 148); OFF(eng_trace, xe_explored, 152); OFF(eng_trace, xe_guard, 156); OFF(eng_trace, xe_propensity, 160); OFF(eng_trace, xe_value, 168); OFF(eng_trace, xe_model_time, 176); OFF(eng_trace, xe_reachable, 184); OFF(eng_trace, xe_segment, 188); OFF(eng_trace, xe_engagement, 192); OFF(eng_trace, xe_engagement_used, 312); OFF(eng_trace, xe_conversion, 432); OFF(eng_trace, xe_conversion_used, 552); OFF(eng_trace, xe_delivery, 672); OFF(eng_trace, xe_cost, 792); OFF(eng_trace, xe_score, 912); OFF(eng_trace, xe_sent, 1032); OFF(eng_trace, xe_engaged, 1092);
    assert_int_equal(sizeof(eng_trace), 1152);
    /* engine.h */
    OFF(eng_config, version, 0); OFF(eng_config, allocator, 8); OFF(eng_config, store, 16); OFF(eng_config, transport, 24); OFF(eng_config, transport_user, 32); OFF(eng_config, clock_fn, 40); OFF(eng_config, clock_user, 48); OFF(eng_config, log_fn, 56); OFF(eng_config, log_user, 64); OFF(eng_config, log_level, 72); OFF(eng_config, progress_fn, 80); OFF(eng_config, progress_user, 88); OFF(eng_config, threads, 96); OFF(eng_config, events_segments, 100);
    assert_int_equal(sizeof(eng_config), 104);
    OFF(eng_info, version, 0); OFF(eng_info, data_format, 4); OFF(eng_info, created, 8); OFF(eng_info, last_opened, 16); OFF(eng_info, open_count, 24); OFF(eng_info, store_kind, 32);
    OFF(eng_info, store_file_bytes, 40); OFF(eng_info, store_live_bytes, 48); OFF(eng_info, store_dead_bytes, 56); OFF(eng_info, store_compactions, 64);
    OFF(eng_info, events_segments, 72); OFF(eng_info, events_segments_resident, 80); OFF(eng_info, events_segment_reads, 88);
    assert_int_equal(sizeof(eng_info), 96);
    OFF(eng_file_compaction, version, 0); OFF(eng_file_compaction, enabled, 4); OFF(eng_file_compaction, dead_percent, 8); OFF(eng_file_compaction, min_dead_bytes, 16);
    assert_int_equal(sizeof(eng_file_compaction), 24);
    /* errors.h */
    OFF(eng_error, code, 0); OFF(eng_error, message, 8); OFF(eng_error, detail, 16);
    assert_int_equal(sizeof(eng_error), 24);
    /* events.h */
    OFF(eng_event_report, version, 0); OFF(eng_event_report, rows, 8); OFF(eng_event_report, accepted, 16); OFF(eng_event_report, duplicates, 24); OFF(eng_event_report, unmatched, 32); OFF(eng_event_report, unknown_customers, 40); OFF(eng_event_report, consent_changes, 48); OFF(eng_event_report, bad_rows, 56); OFF(eng_event_report, bytes, 64);
    assert_int_equal(sizeof(eng_event_report), 72);
    OFF(eng_receipts, version, 0); OFF(eng_receipts, count, 8); OFF(eng_receipts, keys, 16); OFF(eng_receipts, statuses, 24); OFF(eng_receipts, times, 32); OFF(eng_receipts, details, 40); OFF(eng_receipts, unmatched_fn, 48); OFF(eng_receipts, unmatched_user, 56);
    OFF(eng_receipts, key_lengths, 64);
    assert_int_equal(sizeof(eng_receipts), 72);
    OFF(eng_touch_row, version, 0); OFF(eng_touch_row, time, 8); OFF(eng_touch_row, customer, 16); OFF(eng_touch_row, channel, 20); OFF(eng_touch_row, status, 24); OFF(eng_touch_row, campaign, 32); OFF(eng_touch_row, message, 40); OFF(eng_touch_row, message_version, 48); OFF(eng_touch_row, occurrence, 52); OFF(eng_touch_row, detail, 56);
    assert_int_equal(sizeof(eng_touch_row), 64);
    OFF(eng_txn_batch, version, 0); OFF(eng_txn_batch, count, 8); OFF(eng_txn_batch, ids, 16); OFF(eng_txn_batch, customers, 24); OFF(eng_txn_batch, times, 32); OFF(eng_txn_batch, amounts, 40); OFF(eng_txn_batch, stores, 48); OFF(eng_txn_batch, item_counts, 56); OFF(eng_txn_batch, items, 64); OFF(eng_txn_batch, nfields, 72); OFF(eng_txn_batch, field_names, 80); OFF(eng_txn_batch, field_values, 88);
    assert_int_equal(sizeof(eng_txn_batch), 96);
    OFF(eng_txn_row, version, 0); OFF(eng_txn_row, id, 8); OFF(eng_txn_row, customer, 16); OFF(eng_txn_row, external_id, 24); OFF(eng_txn_row, time, 32); OFF(eng_txn_row, amount, 40); OFF(eng_txn_row, store, 48); OFF(eng_txn_row, n_items, 56); OFF(eng_txn_row, items, 64);
    assert_int_equal(sizeof(eng_txn_row), 72);
    /* goal.h */
    OFF(eng_goal_spec, version, 0); OFF(eng_goal_spec, event, 8); OFF(eng_goal_spec, condition, 16); OFF(eng_goal_spec, window_days, 24); OFF(eng_goal_spec, start_on, 28); OFF(eng_goal_spec, attribution, 32);
    assert_int_equal(sizeof(eng_goal_spec), 40);
    /* measure.h */
    OFF(eng_touch_columns, version, 0); OFF(eng_touch_columns, n, 8); OFF(eng_touch_columns, customer, 16); OFF(eng_touch_columns, message, 24); OFF(eng_touch_columns, channel, 32); OFF(eng_touch_columns, status, 40); OFF(eng_touch_columns, time, 48); OFF(eng_touch_columns, occurrence, 56);
    assert_int_equal(sizeof(eng_touch_columns), 64);
    OFF(eng_txn_columns, version, 0); OFF(eng_txn_columns, n, 8); OFF(eng_txn_columns, customer, 16); OFF(eng_txn_columns, time, 24); OFF(eng_txn_columns, amount, 32); OFF(eng_txn_columns, amount_scale, 40); OFF(eng_txn_columns, fields, 48); OFF(eng_txn_columns, nfields, 56); OFF(eng_txn_columns, columns, 64);
    assert_int_equal(sizeof(eng_txn_columns), 72);
    OFF(eng_measure_spec, version, 0); OFF(eng_measure_spec, n_customers, 4); OFF(eng_measure_spec, messages, 8); OFF(eng_measure_spec, n_messages, 16); OFF(eng_measure_spec, message_sent_at, 24); OFF(eng_measure_spec, start, 32); OFF(eng_measure_spec, end, 40); OFF(eng_measure_spec, has_goal, 48); OFF(eng_measure_spec, goal, 56); OFF(eng_measure_spec, half_life, 64); OFF(eng_measure_spec, control, 72); OFF(eng_measure_spec, n_control, 80); OFF(eng_measure_spec, channel_cost, 88); OFF(eng_measure_spec, currency_places, 96);
    assert_int_equal(sizeof(eng_measure_spec), 104);
    OFF(eng_report_figures, version, 0); OFF(eng_report_figures, responder_def, 4); OFF(eng_report_figures, currency_places, 8); OFF(eng_report_figures, contacted, 16); OFF(eng_report_figures, sent, 24); OFF(eng_report_figures, delivered, 32); OFF(eng_report_figures, not_delivered, 40); OFF(eng_report_figures, opened, 48); OFF(eng_report_figures, clicked, 56); OFF(eng_report_figures, unsubscribed, 64); OFF(eng_report_figures, responders, 72); OFF(eng_report_figures, conversions, 80); OFF(eng_report_figures, hit_rate, 88); OFF(eng_report_figures, responder_sales, 96); OFF(eng_report_figures, spend_per_responder_known, 104); OFF(eng_report_figures, spend_per_responder, 112); OFF(eng_report_figures, credits_spent, 120); OFF(eng_report_figures, control_contacted, 128); OFF(eng_report_figures, control_responders, 136); OFF(eng_report_figures, control_known, 144); OFF(eng_report_figures, control_hit_rate, 152); OFF(eng_report_figures, lift_known, 160); OFF(eng_report_figures, lift, 168); OFF(eng_report_figures, lift_ci_low, 176); OFF(eng_report_figures, lift_ci_high, 184); OFF(eng_report_figures, p_value, 192); OFF(eng_report_figures, incremental_known, 200); OFF(eng_report_figures, incremental_sales, 208);
    assert_int_equal(sizeof(eng_report_figures), 216);
    OFF(eng_campaign_report_options, version, 0); OFF(eng_campaign_report_options, half_life, 8); OFF(eng_campaign_report_options, currency_places, 16); OFF(eng_campaign_report_options, credits_per_unit, 24); OFF(eng_campaign_report_options, threads, 32);
    assert_int_equal(sizeof(eng_campaign_report_options), 40);
    OFF(eng_ope_estimate, version, 0); OFF(eng_ope_estimate, known, 4); OFF(eng_ope_estimate, message, 8); OFF(eng_ope_estimate, rows, 16); OFF(eng_ope_estimate, ipw, 24); OFF(eng_ope_estimate, ipw_low, 32); OFF(eng_ope_estimate, ipw_high, 40); OFF(eng_ope_estimate, dr, 48); OFF(eng_ope_estimate, dr_low, 56); OFF(eng_ope_estimate, dr_high, 64);
    assert_int_equal(sizeof(eng_ope_estimate), 72);
    OFF(eng_org_figures, version, 0); OFF(eng_org_figures, currency_places, 4); OFF(eng_org_figures, from, 8); OFF(eng_org_figures, to, 16); OFF(eng_org_figures, campaigns, 24); OFF(eng_org_figures, contacted, 32); OFF(eng_org_figures, sent, 40); OFF(eng_org_figures, delivered, 48); OFF(eng_org_figures, delivery_rate, 56); OFF(eng_org_figures, responders, 64); OFF(eng_org_figures, hit_rate, 72); OFF(eng_org_figures, responder_sales, 80); OFF(eng_org_figures, incremental_known, 88); OFF(eng_org_figures, incremental_sales, 96); OFF(eng_org_figures, credits_spent, 104); OFF(eng_org_figures, credits_remaining, 112);
    assert_int_equal(sizeof(eng_org_figures), 120);
    /* message.h */
    OFF(eng_variant, dimension, 0); OFF(eng_variant, rule, 8); OFF(eng_variant, channel, 16); OFF(eng_variant, body, 24);
    assert_int_equal(sizeof(eng_variant), 32);
    OFF(eng_creative, channel, 0); OFF(eng_creative, subject, 8); OFF(eng_creative, body, 16);
    assert_int_equal(sizeof(eng_creative), 24);
    OFF(eng_incentive, version, 0); OFF(eng_incentive, kind, 4); OFF(eng_incentive, offer_id, 8); OFF(eng_incentive, coupon_source, 16); OFF(eng_incentive, coupon_code, 24); OFF(eng_incentive, coupon_pool, 32); OFF(eng_incentive, points, 40); OFF(eng_incentive, points_expiry_days, 48);
    assert_int_equal(sizeof(eng_incentive), 56);
    OFF(eng_schedule, version, 0); OFF(eng_schedule, kind, 4); OFF(eng_schedule, at, 8); OFF(eng_schedule, every, 16); OFF(eng_schedule, unit, 20); OFF(eng_schedule, until, 24);
    assert_int_equal(sizeof(eng_schedule), 32);
    OFF(eng_sender, channel, 0); OFF(eng_sender, id, 8);
    assert_int_equal(sizeof(eng_sender), 16);
    OFF(eng_delivery, version, 0); OFF(eng_delivery, senders, 8); OFF(eng_delivery, n_senders, 16); OFF(eng_delivery, poc, 24); OFF(eng_delivery, n_poc, 32); OFF(eng_delivery, tiny_url, 40);
    assert_int_equal(sizeof(eng_delivery), 48);
    OFF(eng_message_spec, version, 0); OFF(eng_message_spec, title, 8); OFF(eng_message_spec, type, 16); OFF(eng_message_spec, strategy, 20); OFF(eng_message_spec, variants, 24); OFF(eng_message_spec, n_variants, 32); OFF(eng_message_spec, channel_priority, 40); OFF(eng_message_spec, n_channel_priority, 48); OFF(eng_message_spec, include, 56); OFF(eng_message_spec, n_include, 64); OFF(eng_message_spec, exclude, 72); OFF(eng_message_spec, n_exclude, 80); OFF(eng_message_spec, creatives, 88); OFF(eng_message_spec, n_creatives, 96); OFF(eng_message_spec, incentive, 104); OFF(eng_message_spec, schedule, 112); OFF(eng_message_spec, delivery, 120); OFF(eng_message_spec, xengage, 128);
    assert_int_equal(sizeof(eng_message_spec), 136);
    OFF(eng_xengage_options, version, 0); OFF(eng_xengage_options, credit_cap, 8); OFF(eng_xengage_options, credits_per_unit, 16);
    assert_int_equal(sizeof(eng_xengage_options), 24);
    OFF(eng_message_status, version, 0); OFF(eng_message_status, id, 8); OFF(eng_message_status, campaign, 16); OFF(eng_message_status, state, 24); OFF(eng_message_status, created_by, 32); OFF(eng_message_status, edited_by, 40); OFF(eng_message_status, updated_at, 48); OFF(eng_message_status, decided_by, 56); OFF(eng_message_status, decided_at, 64); OFF(eng_message_status, comment, 72); OFF(eng_message_status, approved_hash, 80); OFF(eng_message_status, content_hash, 88);
    assert_int_equal(sizeof(eng_message_status), 96);
    /* org.h */
    OFF(eng_org_settings, version, 0); OFF(eng_org_settings, conversion_goals, 4); OFF(eng_org_settings, xengage, 8); OFF(eng_org_settings, allow_self_approval, 12); OFF(eng_org_settings, forbid_overdraft, 16); OFF(eng_org_settings, channel_cost, 24); OFF(eng_org_settings, xengage_cost, 152); OFF(eng_org_settings, has_default_goal, 160); OFF(eng_org_settings, default_goal, 168);
    assert_int_equal(sizeof(eng_org_settings), 176);
    /* rules.h */
    OFF(eng_rule_field, name, 0); OFF(eng_rule_field, type, 8); OFF(eng_rule_field, scale, 12);
    assert_int_equal(sizeof(eng_rule_field), 16);
    OFF(eng_rule_value, type, 0); OFF(eng_rule_value, scale, 4); OFF(eng_rule_value, v, 8);
    assert_int_equal(sizeof(eng_rule_value), 32);
    OFF(eng_rule_options, version, 0); OFF(eng_rule_options, fields, 8); OFF(eng_rule_options, nfields, 16); OFF(eng_rule_options, now, 24); OFF(eng_rule_options, max_depth, 32); OFF(eng_rule_options, max_nodes, 36);
    assert_int_equal(sizeof(eng_rule_options), 40);
    OFF(eng_rule_column, type, 0); OFF(eng_rule_column, scale, 4); OFF(eng_rule_column, data, 8); OFF(eng_rule_column, nulls, 16); OFF(eng_rule_column, dict, 24); OFF(eng_rule_column, dict_len, 32); OFF(eng_rule_column, dict_size, 40); OFF(eng_rule_column, list_codes, 48);
    assert_int_equal(sizeof(eng_rule_column), 56);
    OFF(eng_rule_batch, version, 0); OFF(eng_rule_batch, nrows, 8); OFF(eng_rule_batch, columns, 16); OFF(eng_rule_batch, ncolumns, 24); OFF(eng_rule_batch, code_widths, 32);
    assert_int_equal(sizeof(eng_rule_batch), 40);
    /* store.h */
    OFF(eng_store_methods, version, 0); OFF(eng_store_methods, get, 8); OFF(eng_store_methods, put, 16); OFF(eng_store_methods, del, 24); OFF(eng_store_methods, scan, 32); OFF(eng_store_methods, begin, 40); OFF(eng_store_methods, commit, 48); OFF(eng_store_methods, rollback, 56); OFF(eng_store_methods, destroy, 64); OFF(eng_store_methods, erased, 72); OFF(eng_store_methods, changes, 80);
    assert_int_equal(sizeof(eng_store_methods), 88);
    /* transport.h */
    OFF(eng_envelope, version, 0); OFF(eng_envelope, idempotency_key, 8); OFF(eng_envelope, channel, 16); OFF(eng_envelope, recipient, 24); OFF(eng_envelope, sender, 32); OFF(eng_envelope, subject, 40); OFF(eng_envelope, body, 48); OFF(eng_envelope, body_len, 56); OFF(eng_envelope, campaign, 64); OFF(eng_envelope, message, 72); OFF(eng_envelope, occurrence, 80); OFF(eng_envelope, customer, 84); OFF(eng_envelope, attempt, 88); OFF(eng_envelope, segments, 92);
    assert_int_equal(sizeof(eng_envelope), 96);
    OFF(eng_transport_methods, version, 0); OFF(eng_transport_methods, send, 8); OFF(eng_transport_methods, destroy, 16); OFF(eng_transport_methods, send_batch, 24); OFF(eng_transport_methods, max_in_flight, 32); OFF(eng_transport_methods, batch_size, 36);
    assert_int_equal(sizeof(eng_transport_methods), 40);
}

/* init() into a dirty struct gives the bytes of the static initialiser; bad arguments are refused. */
#define SAME(T, INIT, fn, ver)                                                                                     \
    do {                                                                                                            \
        static const T a = INIT;                                                                                    \
        static T b;                                                                                                 \
        memset(&b, 0xa5, sizeof b);                                                                                 \
        assert_int_equal(fn(&b, ver), ENG_OK);                                                                      \
        assert_memory_equal(&a, &b, sizeof a);                                                                      \
        assert_int_equal(fn(&b, ver + 1), ENG_EVERSION);                                                            \
        assert_int_equal(fn(&b, 0), ENG_EVERSION);                                                                  \
        assert_int_equal(fn(NULL, ver), ENG_EINVAL);                                                                \
    } while (0)

static void init_functions_match_initialisers(void **s)
{
    (void)s;
    SAME(eng_store_methods, ENG_STORE_METHODS_INIT, eng_store_methods_init, ENG_STORE_METHODS_VERSION);
    SAME(eng_envelope, ENG_ENVELOPE_INIT, eng_envelope_init, ENG_ENVELOPE_VERSION);
    SAME(eng_transport_methods, ENG_TRANSPORT_METHODS_INIT, eng_transport_methods_init, ENG_TRANSPORT_METHODS_VERSION);
    SAME(eng_config, ENG_CONFIG_INIT, eng_config_init, ENG_CONFIG_VERSION);
    SAME(eng_info, ENG_INFO_INIT, eng_info_init, ENG_INFO_VERSION);
    SAME(eng_file_compaction, ENG_FILE_COMPACTION_INIT, eng_file_compaction_init, ENG_FILE_COMPACTION_VERSION);
    SAME(eng_rule_options, ENG_RULE_OPTIONS_INIT, eng_rule_options_init, ENG_RULE_OPTIONS_VERSION);
    SAME(eng_rule_batch, ENG_RULE_BATCH_INIT, eng_rule_batch_init, ENG_RULE_BATCH_VERSION);
    SAME(eng_import_options, ENG_IMPORT_OPTIONS_INIT, eng_import_options_init, ENG_IMPORT_OPTIONS_VERSION);
    SAME(eng_import_report, ENG_IMPORT_REPORT_INIT, eng_import_report_init, ENG_IMPORT_REPORT_VERSION);
    SAME(eng_erase_report, ENG_ERASE_REPORT_INIT, eng_erase_report_init, ENG_ERASE_REPORT_VERSION);
    SAME(eng_consent_change, ENG_CONSENT_CHANGE_INIT, eng_consent_change_init, ENG_CONSENT_CHANGE_VERSION);
    SAME(eng_audience_query, ENG_AUDIENCE_QUERY_INIT, eng_audience_query_init, ENG_AUDIENCE_QUERY_VERSION);
    SAME(eng_global_control, ENG_GLOBAL_CONTROL_INIT, eng_global_control_init, ENG_GLOBAL_CONTROL_VERSION);
    SAME(eng_org_settings, ENG_ORG_SETTINGS_INIT, eng_org_settings_init, ENG_ORG_SETTINGS_VERSION);
    SAME(eng_actor_spec, ENG_ACTOR_SPEC_INIT, eng_actor_spec_init, ENG_ACTOR_SPEC_VERSION);
    SAME(eng_campaign_spec, ENG_CAMPAIGN_SPEC_INIT, eng_campaign_spec_init, ENG_CAMPAIGN_SPEC_VERSION);
    SAME(eng_goal_spec, ENG_GOAL_SPEC_INIT, eng_goal_spec_init, ENG_GOAL_SPEC_VERSION);
    SAME(eng_campaign_status, ENG_CAMPAIGN_STATUS_INIT, eng_campaign_status_init, ENG_CAMPAIGN_STATUS_VERSION);
    SAME(eng_message_spec, ENG_MESSAGE_SPEC_INIT, eng_message_spec_init, ENG_MESSAGE_SPEC_VERSION);
    SAME(eng_incentive, ENG_INCENTIVE_INIT, eng_incentive_init, ENG_INCENTIVE_VERSION);
    SAME(eng_schedule, ENG_SCHEDULE_INIT, eng_schedule_init, ENG_SCHEDULE_VERSION);
    SAME(eng_delivery, ENG_DELIVERY_INIT, eng_delivery_init, ENG_DELIVERY_VERSION);
    SAME(eng_xengage_options, ENG_XENGAGE_OPTIONS_INIT, eng_xengage_options_init, ENG_XENGAGE_OPTIONS_VERSION);
    SAME(eng_message_status, ENG_MESSAGE_STATUS_INIT, eng_message_status_init, ENG_MESSAGE_STATUS_VERSION);
    SAME(eng_model_event, ENG_MODEL_EVENT_INIT, eng_model_event_init, ENG_MODEL_EVENT_VERSION);
    SAME(eng_touch_columns, ENG_TOUCH_COLUMNS_INIT, eng_touch_columns_init, ENG_TOUCH_COLUMNS_VERSION);
    SAME(eng_txn_columns, ENG_TXN_COLUMNS_INIT, eng_txn_columns_init, ENG_TXN_COLUMNS_VERSION);
    SAME(eng_measure_spec, ENG_MEASURE_SPEC_INIT, eng_measure_spec_init, ENG_MEASURE_SPEC_VERSION);
    SAME(eng_report_figures, ENG_REPORT_FIGURES_INIT, eng_report_figures_init, ENG_REPORT_FIGURES_VERSION);
    SAME(eng_campaign_report_options, ENG_CAMPAIGN_REPORT_OPTIONS_INIT, eng_campaign_report_options_init,
         ENG_CAMPAIGN_REPORT_OPTIONS_VERSION);
    SAME(eng_ope_estimate, ENG_OPE_ESTIMATE_INIT, eng_ope_estimate_init, ENG_OPE_ESTIMATE_VERSION);
    SAME(eng_run_options, ENG_RUN_OPTIONS_INIT, eng_run_options_init, ENG_RUN_OPTIONS_VERSION);
    SAME(eng_run_report, ENG_RUN_REPORT_INIT, eng_run_report_init, ENG_RUN_REPORT_VERSION);
    SAME(eng_execution_info, ENG_EXECUTION_INFO_INIT, eng_execution_info_init, ENG_EXECUTION_INFO_VERSION);
    SAME(eng_send_info, ENG_SEND_INFO_INIT, eng_send_info_init, ENG_SEND_INFO_VERSION);
    SAME(eng_event_report, ENG_EVENT_REPORT_INIT, eng_event_report_init, ENG_EVENT_REPORT_VERSION);
    SAME(eng_touch_row, ENG_TOUCH_ROW_INIT, eng_touch_row_init, ENG_TOUCH_ROW_VERSION);
    SAME(eng_txn_row, ENG_TXN_ROW_INIT, eng_txn_row_init, ENG_TXN_ROW_VERSION);
    SAME(eng_unsubscribe_info, ENG_UNSUBSCRIBE_INFO_INIT, eng_unsubscribe_info_init, ENG_UNSUBSCRIBE_INFO_VERSION);
    SAME(eng_coupon_pool_info, ENG_COUPON_POOL_INFO_INIT, eng_coupon_pool_info_init, ENG_COUPON_POOL_INFO_VERSION);
    SAME(eng_offer_spec, ENG_OFFER_SPEC_INIT, eng_offer_spec_init, ENG_OFFER_SPEC_VERSION);
    SAME(eng_coupon_assignment, ENG_COUPON_ASSIGNMENT_INIT, eng_coupon_assignment_init, ENG_COUPON_ASSIGNMENT_VERSION);
    SAME(eng_ad_manifest, ENG_AD_MANIFEST_INIT, eng_ad_manifest_init, ENG_AD_MANIFEST_VERSION);
    SAME(eng_dispatch_hooks, ENG_DISPATCH_HOOKS_INIT, eng_dispatch_hooks_init, ENG_DISPATCH_HOOKS_VERSION);
    SAME(eng_points_award, ENG_POINTS_AWARD_INIT, eng_points_award_init, ENG_POINTS_AWARD_VERSION);
    SAME(eng_tiny_url_request, ENG_TINY_URL_REQUEST_INIT, eng_tiny_url_request_init, ENG_TINY_URL_REQUEST_VERSION);
    SAME(eng_preview, ENG_PREVIEW_INIT, eng_preview_init, ENG_PREVIEW_VERSION);
    SAME(eng_dry_report, ENG_DRY_REPORT_INIT, eng_dry_report_init, ENG_DRY_REPORT_VERSION);
    SAME(eng_trace, ENG_TRACE_INIT, eng_trace_init, ENG_TRACE_VERSION);
    SAME(eng_org_figures, ENG_ORG_FIGURES_INIT, eng_org_figures_init, ENG_ORG_FIGURES_VERSION);
    /* eng_allocator_init() fills in the system allocator; ENG_ALLOCATOR_INIT leaves the
     * hooks NULL, which means the same. */
    eng_allocator al, none = ENG_ALLOCATOR_INIT;
    assert_int_equal(eng_allocator_init(&al, ENG_ALLOCATOR_VERSION), ENG_OK);
    assert_int_equal(al.version, ENG_ALLOCATOR_VERSION);
    assert_non_null(al.malloc_fn);
    assert_non_null(al.realloc_fn);
    assert_non_null(al.free_fn);
    assert_int_equal(none.version, ENG_ALLOCATOR_VERSION);
    assert_null(none.malloc_fn);
    eng_config cfg = ENG_CONFIG_INIT;
    cfg.allocator = &none;
    eng_engine *e;
    assert_int_equal(eng_open(&cfg, &e), ENG_OK);
    assert_int_equal(eng_close(e), ENG_OK);
}

static void enum_values_are_fixed(void **s)
{
    (void)s;
    assert_int_equal(ENG_EUSER, -24);
    assert_int_equal(ENG_ITEROVER, -25);
    assert_int_equal(ENG_ECORRUPT, -9);
    assert_int_equal(ENG_CH_SMS, 0);
    assert_int_equal(ENG_CH_EMAIL, 1);
    assert_int_equal(ENG_CH_COUNT, 15);
    assert_int_equal(ENG_MAX_CHANNELS, 16);
    assert_int_equal(ENG_OPE_XENGAGE, 0); assert_int_equal(ENG_OPE_GREEDY, 3);
    assert_int_equal(ENG_SEND_UNKNOWN, 3);
    assert_int_equal(ENG_ID_STRING, 1); assert_int_equal(ENG_ID_INT64, 2);
    assert_int_equal(ENG_COL_STRING, 1); assert_int_equal(ENG_COL_BOOL, 5);
    assert_int_equal(ENG_IMPORT_REJECT_FILE, 0); assert_int_equal(ENG_IMPORT_SKIP_ROWS, 1);
    assert_int_equal(ENG_GROUP_UPLOADED, 1); assert_int_equal(ENG_GROUP_COMBINED, 3);
    assert_int_equal(ENG_COMBINE_UNION, 1); assert_int_equal(ENG_COMBINE_INTERSECT, 2);
    assert_int_equal(ENG_UPLOAD_REPLACE, 1); assert_int_equal(ENG_UPLOAD_APPEND, 2);
    assert_int_equal(ENG_PART_ALL, 0); assert_int_equal(ENG_PART_CONTROL, 2);
    assert_int_equal(ENG_RT_NULL, 0); assert_int_equal(ENG_RT_STRING_LIST, 7);
    assert_int_equal(ENG_RULE_OP_EQ, 0); assert_int_equal(ENG_RULE_OP_IS_NULL, 11);
    assert_int_equal(ENG_STATE_DRAFT, 0); assert_int_equal(ENG_STATE_STOPPED, 6);
    assert_int_equal(ENG_ACT_EDIT, 0); assert_int_equal(ENG_ACT_STOP, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(struct_layouts),
        cmocka_unit_test(init_functions_match_initialisers),
        cmocka_unit_test(enum_values_are_fixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
