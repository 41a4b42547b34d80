"""Views of the accounts app, one module per group of pages: thin (parse, call a service or
selector, render).

* auth: sign-in and out, registration and email verification, passwords;
* profile: the profile, theme and picture;
* sessions: "Your sessions";
* tokens: personal access tokens for the API (on the profile page);
* data: "Your data" (download) and "Delete my account";
* teams: teams, members, role permissions, invitations;
* people: site admins' People page (site capabilities).

Refusals (taskforge.errors.ServiceError) reach the one mapping, ServiceErrorMiddleware;
a view with a form catches them only to put them on the form (`form_refusal`) and render
it again with the person's input, its status and its headers (`refusal_headers`).
"""
