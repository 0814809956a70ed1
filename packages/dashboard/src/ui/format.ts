import { createFormatter } from "@tollgate/browser";

/** The dashboard's words: the browser helper's formatter in the browser's own language. */
export const words = createFormatter({ locale: navigator.language || "en-GB" });

export const number = new Intl.NumberFormat(navigator.language || "en-GB");
const dateTime = new Intl.DateTimeFormat(navigator.language || "en-GB", { dateStyle: "medium", timeStyle: "short" });
export const formatTime = (iso: string | null | undefined) => (iso ? dateTime.format(new Date(iso)) : "—");
