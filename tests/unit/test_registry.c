/* Unit tests for relay/registry: scoping, quotas, draining, placement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relay/base/error.h"
#include "relay/control/registry.h"

static const struct prism_limits unlimited = {0, 0, 0, 0};

static void test_scoped_names(void **state)
{
    (void)state;
    struct prism_registry *reg = prism_registry_new(2);
    assert_int_equal(prism_registry_tenant_create(reg, "a", &unlimited), 0);
    assert_int_equal(prism_registry_tenant_create(reg, "b", &unlimited), 0);
    assert_int_equal(prism_registry_tenant_create(reg, "a", &unlimited), PRISM_EEXIST);
    assert_int_equal(prism_registry_bubble_create(reg, "a", "x", NULL), 0);
    assert_int_equal(prism_registry_bubble_create(reg, "b", "x", NULL), 0);
    assert_int_equal(prism_registry_peer_join(reg, "a", "x", "p", true, NULL), 0);
    assert_int_equal(prism_registry_peer_join(reg, "b", "x", "p", false, NULL), 0);
    struct prism_peer *pa = prism_registry_peer_find(reg, "a", "x", "p");
    struct prism_peer *pb = prism_registry_peer_find(reg, "b", "x", "p");
    assert_non_null(pa);
    assert_non_null(pb);
    assert_ptr_not_equal(pa, pb);
    assert_true(pa->may_publish);
    assert_false(pb->may_publish);
    assert_true(pa->handle != pb->handle);
    assert_int_equal(prism_registry_bubble_delete(reg, "a", "x", NULL, NULL), 0);
    assert_null(prism_registry_peer_find(reg, "a", "x", "p"));
    assert_non_null(prism_registry_peer_find(reg, "b", "x", "p"));
    assert_int_equal(prism_registry_peer_count(reg), 1);
    prism_registry_free(reg);
}

static void test_not_found(void **state)
{
    (void)state;
    struct prism_registry *reg = prism_registry_new(1);
    assert_int_equal(prism_registry_bubble_create(reg, "nobody", "x", NULL), PRISM_ENOTFOUND);
    assert_int_equal(prism_registry_peer_join(reg, "nobody", "x", "p", true, NULL),
                     PRISM_ENOTFOUND);
    assert_int_equal(prism_registry_tenant_delete(reg, "nobody", NULL, NULL), PRISM_ENOTFOUND);
    prism_registry_tenant_create(reg, "t", &unlimited);
    assert_int_equal(prism_registry_peer_leave(reg, "t", "x", "p"), PRISM_ENOTFOUND);
    prism_registry_bubble_create(reg, "t", "x", NULL);
    assert_int_equal(prism_registry_peer_leave(reg, "t", "x", "p"), PRISM_ENOTFOUND);
    assert_int_equal(prism_registry_peer_join(reg, "t", "x", "p", true, NULL), 0);
    assert_int_equal(prism_registry_peer_join(reg, "t", "x", "p", true, NULL), PRISM_EEXIST);
    assert_int_equal(prism_registry_peer_leave(reg, "t", "x", "p"), 0);
    prism_registry_free(reg);
}

static void test_quotas(void **state)
{
    (void)state;
    struct prism_registry *reg = prism_registry_new(1);
    struct prism_limits lim = {.max_bubbles = 2, .max_peers = 3};
    prism_registry_tenant_create(reg, "t", &lim);
    prism_registry_tenant_create(reg, "other", &unlimited);
    assert_int_equal(prism_registry_bubble_create(reg, "t", "b1", NULL), 0);
    assert_int_equal(prism_registry_bubble_create(reg, "t", "b2", NULL), 0);
    assert_int_equal(prism_registry_bubble_create(reg, "t", "b3", NULL), PRISM_EQUOTA);
    assert_int_equal(prism_registry_bubble_create(reg, "other", "b3", NULL), 0);
    assert_int_equal(prism_registry_peer_join(reg, "t", "b1", "p1", true, NULL), 0);
    assert_int_equal(prism_registry_peer_join(reg, "t", "b1", "p2", true, NULL), 0);
    assert_int_equal(prism_registry_peer_join(reg, "t", "b2", "p3", true, NULL), 0);
    assert_int_equal(prism_registry_peer_join(reg, "t", "b2", "p4", true, NULL), PRISM_EQUOTA);
    /* Leaving or ending a bubble gives the quota back. */
    assert_int_equal(prism_registry_peer_leave(reg, "t", "b2", "p3"), 0);
    assert_int_equal(prism_registry_peer_join(reg, "t", "b2", "p4", true, NULL), 0);
    assert_int_equal(prism_registry_bubble_delete(reg, "t", "b1", NULL, NULL), 0);
    struct prism_tenant *t = prism_registry_tenant_find(reg, "t");
    assert_int_equal(t->n_peers, 1);
    assert_int_equal(t->n_bubbles, 1);
    assert_int_equal(prism_registry_bubble_create(reg, "t", "b3", NULL), 0);
    prism_registry_free(reg);
}

/* Issue 9, finding 7: media transports counted per tenant, refused past
 * max_transports, given back when they end; 0 is unlimited. */
static void test_transport_quota(void **state)
{
    (void)state;
    struct prism_registry *reg = prism_registry_new(1);
    struct prism_limits lim = {.max_transports = 3};
    prism_registry_tenant_create(reg, "t", &lim);
    prism_registry_tenant_create(reg, "other", &unlimited);
    struct prism_tenant *t = prism_registry_tenant_find(reg, "t");
    struct prism_tenant *o = prism_registry_tenant_find(reg, "other");
    for (int i = 0; i < 3; i++)
        assert_int_equal(prism_registry_transport_take(t), 0);
    assert_int_equal(prism_registry_transport_take(t), PRISM_EQUOTA);
    assert_int_equal(t->n_transports, 3);
    for (int i = 0; i < 100; i++) /* another tenant's are its own */
        assert_int_equal(prism_registry_transport_take(o), 0);
    prism_registry_transport_put(t);
    assert_int_equal(prism_registry_transport_take(t), 0);
    assert_int_equal(prism_registry_transport_take(t), PRISM_EQUOTA);
    prism_registry_free(reg);
}

static int ended;

static void count_end(void *ud, struct prism_bubble *b)
{
    (void)ud;
    (void)b;
    ended++;
}

static void test_tenant_delete_and_drain(void **state)
{
    (void)state;
    struct prism_registry *reg = prism_registry_new(3);
    prism_registry_tenant_create(reg, "t", &unlimited);
    for (int i = 0; i < 6; i++) {
        char id[8] = {'b', (char)('0' + i), 0};
        struct prism_bubble *b;
        assert_int_equal(prism_registry_bubble_create(reg, "t", id, &b), 0);
        assert_int_equal(b->worker, (unsigned)(i % 3)); /* least loaded first */
        prism_registry_peer_join(reg, "t", id, "p", true, NULL);
    }
    assert_int_equal(prism_registry_worker_load(reg, 1), 2);
    prism_registry_set_draining(reg, true);
    assert_int_equal(prism_registry_bubble_create(reg, "t", "late", NULL), PRISM_EDRAINING);
    assert_int_equal(prism_registry_peer_join(reg, "t", "b0", "q", true, NULL), 0);
    ended = 0;
    assert_int_equal(prism_registry_tenant_delete(reg, "t", count_end, NULL), 0);
    assert_int_equal(ended, 6);
    assert_int_equal(prism_registry_bubble_count(reg), 0);
    assert_int_equal(prism_registry_peer_count(reg), 0);
    assert_int_equal(prism_registry_worker_load(reg, 0), 0);
    assert_null(prism_registry_tenant_find(reg, "t"));
    prism_registry_free(reg);
}

static int order[4];
static int n_order;

static void record(void *ud, struct prism_peer *p)
{
    (void)ud;
    order[n_order++] = p->id[0] - 'a';
}

static void test_foreach_join_order(void **state)
{
    (void)state;
    struct prism_registry *reg = prism_registry_new(1);
    prism_registry_tenant_create(reg, "t", &unlimited);
    prism_registry_bubble_create(reg, "t", "b", NULL);
    const char *ids[] = {"d", "a", "c", "b"};
    for (int i = 0; i < 4; i++)
        prism_registry_peer_join(reg, "t", "b", ids[i], true, NULL);
    n_order = 0;
    prism_registry_bubble_foreach_peer(prism_registry_bubble_find(reg, "t", "b"), record, NULL);
    assert_int_equal(n_order, 4);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 0);
    assert_int_equal(order[2], 2);
    assert_int_equal(order[3], 1);
    prism_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scoped_names),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_quotas),
        cmocka_unit_test(test_transport_quota),
        cmocka_unit_test(test_tenant_delete_and_drain),
        cmocka_unit_test(test_foreach_join_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
