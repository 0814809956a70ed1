import { serve } from "@hono/node-server";
import { createApp } from "./app.js";

const port = Number(process.env.PORT ?? 3003);
serve({ fetch: createApp().app.fetch, port }, () => {
  console.log(`API tiers on http://localhost:${port}/v1/complete`);
  console.log(`try: curl -X POST -H "Authorization: Bearer tg_free_demo" -i http://localhost:${port}/v1/complete`);
});
