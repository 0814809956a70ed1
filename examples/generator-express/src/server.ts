import { createApp } from "./app.js";

const port = Number(process.env.PORT ?? 3004);
createApp().listen(port, () => {
  console.log(
    `Generator on http://localhost:${port}/api/generate (usage: GET /api/usage; page: http://localhost:${port}/)`,
  );
});
