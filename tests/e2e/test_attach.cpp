// Real attaches: a guest runs tmuxguard-attach in a pane of an outer tmux,
// the owner's server shows what reached it.
#include "harness.hpp"

namespace tge2e {
namespace {

// The record of `guest`'s real attach to `s` after `m`.
std::optional<Record> attach_record(LogMark m, const Account& guest, const Share& s)
{
    const std::string uid = std::to_string(guest.uid);
    return log_wait_record(m, [&](const Record& r) {
        return r.get("event") == "attach" && r.get("uid") == uid && r.get("share") == s.name;
    });
}

// The facts an admin reads in an allowed attach's record.
void expect_attach_record(const std::optional<Record>& rec, const Share& s, std::string_view mode,
                          int rule_line)
{
    ASSERT_NO_FATAL_FAILURE(expect_record(rec, "allow", "permitted", mode));
    EXPECT_EQ(rec->get("owner_uid"), std::to_string(s.owner->uid)) << rec->line;
    EXPECT_EQ(rec->get("socket"), s.socket) << rec->line;
    EXPECT_EQ(rec->get("server_pid"), std::to_string(s.server_pid)) << rec->line;
    EXPECT_EQ(rec->get("session"), s.session) << rec->line;
    EXPECT_EQ(rec->get("rule"), policy_rule_source(rule_line)) << rec->line;
    EXPECT_EQ(rec->get("tty").rfind("/dev/pts/", 0), 0u) << rec->line;
}

}  // namespace

// A viewer sees the owner's pane; nothing he types (plain keys, or the
// command prompt trying `switch-client -r`) reaches the owner's shell.
TEST_F(E2E, ViewerSeesThePaneAndWhatHeTypesChangesNothing)
{
    const Account& viewer = user("viewer");
    Share s = share_make("pair.view");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    owner_type(s, "echo OWNER-MARK-$((6*7))");
    ASSERT_TRUE(wait_until([&] { return contains(owner_pane(s), "OWNER-MARK-42"); }))
        << owner_pane(s);

    LogMark mark = log_mark();
    Outer o = outer_attach(viewer, {s.name});
    std::string readonly;
    ASSERT_TRUE(wait_until([&] { return share_has_client(s, viewer.uid, &readonly); }))
        << "viewer never attached; outer pane:\n"
        << outer_capture(o);
    EXPECT_EQ(readonly, "1") << "the viewer's client is not read-only";
    ASSERT_TRUE(wait_until([&] { return contains(outer_capture(o), "OWNER-MARK-42"); }))
        << "the viewer does not see the owner's pane:\n"
        << outer_capture(o);

    outer_type(o, "echo VIEWER-TYPED-$((6*7))");
    outer_keys(o, {"C-b", ":"});
    outer_type(o, "switch-client -r");
    outer_type(o, "echo VIEWER-PROMPT-$((6*7))");
    owner_type(s, "echo BARRIER-$((6*7))");
    ASSERT_TRUE(wait_until([&] { return contains(outer_capture(o), "BARRIER-42"); }))
        << outer_capture(o);
    const std::string pane = owner_pane(s);
    EXPECT_FALSE(contains(pane, "VIEWER-TYPED")) << "the viewer's keys reached the owner:\n"
                                                 << pane;
    EXPECT_FALSE(contains(pane, "VIEWER-PROMPT")) << "the viewer escaped read-only:\n" << pane;
    EXPECT_TRUE(share_has_client(s, viewer.uid, &readonly) && readonly == "1");
    expect_attach_record(attach_record(mark, viewer, s), s, "view", 1);
}

// An interactive user's keystrokes run in the owner's shell.
TEST_F(E2E, InteractiveUsersKeystrokesReachThePane)
{
    const Account& typist = user("typist");
    Share s = share_make("pair.type");
    ASSERT_NO_FATAL_FAILURE(
        policy_install({s.policy_line(), rule_permit("interact", typist.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));

    LogMark mark = log_mark();
    Outer o = outer_attach(typist, {s.name});
    std::string readonly;
    ASSERT_TRUE(wait_until([&] { return share_has_client(s, typist.uid, &readonly); }))
        << "typist never attached; outer pane:\n"
        << outer_capture(o);
    EXPECT_EQ(readonly, "0");
    outer_type(o, "echo TYPIST-$((6*7))");
    EXPECT_TRUE(wait_until([&] { return contains(owner_pane(s), "TYPIST-42"); }))
        << "the typist's command did not run in the owner's pane:\n"
        << owner_pane(s);
    expect_attach_record(attach_record(mark, typist, s), s, "interact", 1);
}

// Removing a user's rule and running `tmuxguard reload` detaches his client.
TEST_F(E2E, RevokedUserIsDetachedByReload)
{
    const Account& viewer = user("viewer");
    Share s = share_make("pair.revoke");
    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line(), rule_permit("view", viewer.name, s)}));
    ASSERT_NO_FATAL_FAILURE(serve(s));
    Outer o = outer_attach(viewer, {s.name});
    ASSERT_TRUE(wait_until([&] { return share_has_client(s, viewer.uid); }))
        << "viewer never attached; outer pane:\n"
        << outer_capture(o);
    ASSERT_FALSE(outer_dead(o));

    ASSERT_NO_FATAL_FAILURE(policy_install({s.policy_line()}));
    EXPECT_TRUE(wait_until([&] { return !share_has_client(s, viewer.uid); }))
        << "the revoked viewer is still attached";
    EXPECT_TRUE(wait_until([&] { return outer_dead(o); }))
        << "the viewer's tmux client is still running:\n"
        << outer_capture(o);
    expect_denied(attach_check(viewer, {s.name}), "no-rule");
}

}  // namespace tge2e
