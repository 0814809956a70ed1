import { createApp } from "./app.js";

const port = Number(process.env.PORT ?? 3001);
createApp().listen(port, () => {
  console.log(`Ask-AI triage on http://localhost:${port}/api/ai/triage (page: http://localhost:${port}/)`);
  console.log(`try: curl -X POST -H "Authorization: Bearer session-alice" http://localhost:${port}/api/ai/triage`);
});
