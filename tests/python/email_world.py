"""A world several Python tests start from: org "acme" with admin "admin" (self-approval),
credits, unsubscribe links, customers C0..C{n-1} with a consented email each, group "all"."""
import engage


def email_world(eng, n):
    eng.create_org("acme", "admin", allow_self_approval=True)
    eng.adjust_credits("admin", 10 ** 6)
    eng.setup_unsubscribe("admin", "https://shop.example/u", b"a-secret-of-16-bytes-or-more")
    eng.import_csv("admin", "id,contact.email,consent.email\n"
                   + "".join(f"C{i},c{i}@example.in,yes\n" for i in range(n)))
    eng.create_group("admin", "all", ids=[f"C{i}" for i in range(n)])
