#include "engage/engine.h"
#include "engage/version.h"

ENG_API unsigned int eng_version(void) { return ENG_VERSION_NUMBER; }
ENG_API const char *eng_version_string(void) { return ENG_VERSION_STRING; }
