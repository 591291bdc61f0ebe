"""Accounts: one demo user kept in memory, a rate-limited login, logout and an account page.

The password is hashed with argon2; the login rotates the session; failed
logins count towards the failure throttle (FAILURE_LIMIT) on top of the
route's own limit of 5 attempts a minute. Each action ends with a flash message
shown by the page it redirects to.
"""

from __future__ import annotations

from zephyr import (
    HTMLResponse,
    Request,
    Response,
    Zephyr,
    current_user,
    flash,
    limit,
    login_user,
    logout_user,
    redirect,
    render_template,
)
from zephyr.concurrency import run_sync
from zephyr.security import (
    AuthUser,
    IsAuthenticated,
    PasswordHasher,
    SessionAuth,
    record_failure,
)

DEMO_NAME = "demo"
DEMO_PASSWORD = "zephyr-demo-password"  # shown on the login page: this is a demo
hasher = PasswordHasher()
# name -> (argon2 hash, user); the data issue moves this to the database.
users: dict[str, tuple[str, AuthUser]] = {}


def load_user(user_id: str) -> AuthUser | None:
    """The user with ``user_id`` (what SessionAuth calls on every request)."""
    entry = users.get(user_id)
    return entry[1] if entry else None


def install(app: Zephyr) -> None:
    """Add the demo user, session authentication and the account pages to ``app``."""
    app.auth_backends.append(SessionAuth(load_user))

    @app.on_startup
    def create_demo_user() -> None:
        users[DEMO_NAME] = (hasher.hash(DEMO_PASSWORD), AuthUser(id=DEMO_NAME, name="Demo user"))

    @app.get("/login", include_in_schema=False)
    async def login(next: str = "/") -> HTMLResponse:
        return render_template("login.html", next=next, demo_name=DEMO_NAME,
                               demo_password=DEMO_PASSWORD)

    @app.post("/login", include_in_schema=False)
    @limit("5/minute")
    async def submit_login(request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("name", "")), str(form.get("password", ""))
        stored = users.get(name)
        # argon2 is CPU-bound: run it in the thread pool; unknown names cost the same time.
        check = await run_sync(hasher.check, stored[0] if stored else None, password)
        target = str(form.get("next", "/"))
        if stored is None or not check.ok:
            await record_failure(request, "bad-login")
            flash("Wrong name or password.", "error")
            return redirect(app.url_for("login", _query={"next": target}))
        if check.new_hash is not None:  # the hashing parameters changed: upgrade the hash
            users[name] = (check.new_hash, stored[1])
        await login_user(request, stored[1])
        flash(f"Welcome, {stored[1].name}!")
        # SECURITY: ?next= is user-supplied: redirect() only follows same-site targets.
        return redirect(target)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        await logout_user(request)
        flash("You are logged out.")
        return redirect(app.url_for("home"))

    @app.get("/account", include_in_schema=False)
    async def account() -> Response:
        if not current_user:
            return redirect(app.url_for("login", _query={"next": app.url_for("account")}))
        return render_template("account.html")

    @app.get("/api/me", permissions=[IsAuthenticated()], tags=["accounts"])
    async def me() -> dict[str, str]:
        """The signed-in user (401 when nobody is signed in)."""
        return {"id": current_user.id, "name": current_user.name}
