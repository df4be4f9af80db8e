/* routes.c - the list of API areas; adding an area is one line here. */
#include "api/api.h"

int dn_api_register(dn_app_t *app)
{
    int (*const areas[])(dn_app_t *) = {
        dn_api_register_ops,
        dn_api_register_auth,
        dn_api_register_school,
        dn_api_register_timetable,
        dn_api_register_journal,
        dn_api_register_diary,
        dn_api_register_works,
        dn_api_register_files,
        dn_api_register_privacy,
        dn_api_register_web,
    };
    for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); i++) {
        int err = areas[i](app);
        if (err < 0)
            return err;
    }
    return 0;
}
