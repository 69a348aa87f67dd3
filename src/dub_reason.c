
/*
 * Copyright (C) nginx-dub developers
 */


#include "dub_reason.h"


#define DUB_REASON_NAME(id, name)  name,

const char  *const dub_fallback_names[DUB_FB_LAST] = {
    DUB_REASONS(DUB_REASON_NAME)
};
