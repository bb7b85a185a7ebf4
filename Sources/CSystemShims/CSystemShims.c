// Header-only: see include/CSystemShims.h.
