// Progress of a long operation (switch, deploy, drill): deploy tells each step as it happens, the
// runner adds a start and a result line, and each skin shows them its own way (the CLI prints
// lines, Slack updates one message).

/** Told one step of a long operation, e.g. "nginx -t ok". */
export type Progress = (step: string) => void;
