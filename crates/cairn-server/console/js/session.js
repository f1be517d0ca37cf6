// Who is logged in and what their role lets them do: the views ask here before offering an
// action, so a read-only user is never shown a button the server would refuse.

const RANK = { none: 0, "read-only": 1, "read-write": 2 };
let user = null;

/** Remembers the user from `GET /v1/auth/me` (null on logout). */
export function setUser(info) {
  user = info;
}

/** The logged-in user: `{name, role, grants}`, or null. */
export function currentUser() {
  return user;
}

/** Whether the user is an admin (metrics, query statistics, users). */
export function isAdmin() {
  return user?.role === "admin";
}

function access(collection) {
  if (!user) return 0;
  if (user.role === "admin") return RANK["read-write"];
  const grant = user.grants?.[collection];
  if (grant !== undefined) return RANK[grant] ?? 0;
  return RANK[user.role] ?? 0;
}

/** Whether the user may read the collection. */
export function canRead(collection) {
  return access(collection) >= RANK["read-only"];
}

/** Whether the user may write the collection (documents, indexes, drop). */
export function canWrite(collection) {
  return access(collection) >= RANK["read-write"];
}

/** Whether the user may create some collection (by role, or by a read-write grant). */
export function canCreateCollections() {
  if (!user) return false;
  if (user.role === "admin" || user.role === "read-write") return true;
  return Object.values(user.grants ?? {}).includes("read-write");
}
