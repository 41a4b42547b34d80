// TaskForge: initiate the single-node replica set rs0 and create the application user.
// Idempotent. Run by the `mongo-init` compose service:
//   mongosh --host mongo -u "$MONGO_INITDB_ROOT_USERNAME" -p ... --authenticationDatabase admin \
//           --file /init/init-replica-set.js
// Environment: MONGO_REPLICA_HOST (member address other containers use, default mongo:27017),
// MONGO_APP_USER / MONGO_APP_PASSWORD / MONGO_APP_DB (the user in MONGODB_URI).

const replicaSet = "rs0";
const memberHost = process.env.MONGO_REPLICA_HOST || "mongo:27017";

let initiated = true;
try {
  rs.status();
} catch (err) {
  if (err.codeName === "NotYetInitialized" || /no replset config/i.test(String(err.message))) {
    initiated = false;
  } else {
    throw err;
  }
}
if (!initiated) {
  rs.initiate({ _id: replicaSet, members: [{ _id: 0, host: memberHost }] });
  print(`initiated replica set ${replicaSet} with member ${memberHost}`);
}

// A fresh replica set needs a moment to elect its primary.
for (let i = 0; i < 60 && !db.hello().isWritablePrimary; i++) {
  sleep(1000);
}
if (!db.hello().isWritablePrimary) {
  throw new Error(`replica set ${replicaSet} has no writable primary after 60 s`);
}

const appUser = process.env.MONGO_APP_USER;
const appPassword = process.env.MONGO_APP_PASSWORD;
const appDb = process.env.MONGO_APP_DB || "taskforge";
if (appUser && appPassword) {
  const target = db.getSiblingDB(appDb);
  const roles = [{ role: "readWrite", db: appDb }];
  if (target.getUser(appUser)) {
    target.updateUser(appUser, { pwd: appPassword, roles: roles });
  } else {
    target.createUser({ user: appUser, pwd: appPassword, roles: roles });
    print(`created user ${appUser} on ${appDb}`);
  }
}
print(`replica set ${replicaSet} ready`);
