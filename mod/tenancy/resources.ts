import { resourceRef } from "../kube/resources.ts";
import { PROJECT_GROUP, PROJECT_VERSION } from "./project.ts";

export const PROJECTS = resourceRef(PROJECT_GROUP, PROJECT_VERSION, "projects", "Project", false);
