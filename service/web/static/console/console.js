// The organizer console. Built on common/api.js and common/i18n.js.
import { translate } from "/static/common/i18n.js";

translate();
