"""Writes of the accounts app, one module per subject:

* registration: registering, confirming the email address, a new confirmation link;
* signin: signing in and out (rate limits, device cookies, the sign-in log, a new session);
* sessions: ending sessions ("Your sessions", after a password change or reset);
* profile: names, bio and preferences; avatars: the profile picture;
* teams: creating teams, role permissions, members' roles, removal, leaving;
* invitations: inviting to a team and accepting;
* erasure: deleting one's account (the personal-data registry is accounts/export.py);
* capabilities: site capabilities, granted and removed by a site admin.

Every function takes keyword arguments, runs in one transaction and queues its side
effects (mail, cache invalidation, files) for after the commit. Permission checks go
through accounts.permissions (the one check). Refusals raise taskforge.errors.ServiceError
(or a subclass) carrying a message for the person and an HTTP status.
"""

# The authorization matrix's accounts part (accounts/tests/authz.py, being rewritten with the
# new actors) still calls these through the package; everything else imports the subject
# module. Drop these once it does too.
from accounts.services.avatars import avatar_set
from accounts.services.invitations import invitation_create
from accounts.services.registration import verification_token

__all__ = ["avatar_set", "invitation_create", "verification_token"]
