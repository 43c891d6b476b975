// The whole client side of cookie mode, in plain JavaScript. `API` is where
// latchkey answers, from the page's <meta name="latchkey-api">: this page's
// own origin behind a reverse proxy (empty), or another origin allowed in
// cors.allowed_origins.
const API = document.querySelector('meta[name="latchkey-api"]').content;

let access = null; // in memory only: gone with the page, unreadable by other tabs
let csrf = null; // from the X-CSRFToken answer header (a page on another
                 // site cannot read latchkey's cookies)
let refreshTimer = null;

async function call(path, { method = "POST", body, bearer = false } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (csrf) headers["X-CSRFToken"] = csrf;
  if (bearer && access) headers["Authorization"] = `Bearer ${access}`;
  const response = await fetch(API + path, {
    method,
    headers,
    credentials: "include", // the refresh cookie goes with it
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const token = response.headers.get("X-CSRFToken");
  if (token) csrf = token;
  const data = response.status === 204 ? null : await response.json();
  return { status: response.status, data };
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const { exp } = JSON.parse(atob(access.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  // A little before the access token expires.
  const wait = Math.max(1000, (exp * 1000 - Date.now()) - 30000);
  refreshTimer = setTimeout(refresh, wait);
}

async function login(username, password) {
  const answer = await call("/api/token/", { body: { username, password } });
  if (answer.status === 200) {
    access = answer.data.access;
    scheduleRefresh();
  }
  return answer;
}

async function refresh() {
  // No body: the refresh token is the HttpOnly cookie.
  const answer = await call("/api/token/refresh/", { body: {} });
  if (answer.status === 200) {
    access = answer.data.access;
    scheduleRefresh();
  }
  return answer;
}

async function me() {
  return call("/api/me/", { method: "GET", bearer: true });
}

async function logout() {
  clearTimeout(refreshTimer);
  const answer = await call("/api/token/blacklist/", { body: {} });
  access = null;
  csrf = null;
  return answer;
}

// For the page's buttons, and for the browser test that drives it.
window.latchkey = { login, refresh, me, logout, setCsrf: (value) => { csrf = value; } };

const out = document.getElementById("out");
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const answer = await login(form.get("username"), form.get("password"));
  if (answer.status !== 200) {
    out.textContent = JSON.stringify(answer.data);
    return;
  }
  document.getElementById("logout").hidden = false;
  out.textContent = JSON.stringify((await me()).data, null, 2);
});
document.getElementById("logout").addEventListener("click", async () => {
  await logout();
  document.getElementById("logout").hidden = true;
  out.textContent = "logged out";
});
