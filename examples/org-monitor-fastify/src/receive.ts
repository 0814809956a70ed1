import { startAlertReceiver } from "./receiver.js";

const secret = process.env.ALERT_SECRET ?? "change-me-0123456789";
await startAlertReceiver(secret, ({ event, delivery }) => {
  const { subject, category, count, threshold } = event;
  console.log(`${event.type}: ${subject} ${category} ${count} > ${threshold} (delivery ${delivery})`);
});
console.log("alert receiver on http://127.0.0.1:9099/hook");
