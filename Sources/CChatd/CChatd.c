#include "CChatd.h"
