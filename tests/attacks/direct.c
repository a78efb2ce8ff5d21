/* Plain loads and stores into the library's memory: direct PLACE read|write */
#include "attack.h"

int main(int argc, char **argv)
{
    vault_open();
    enum vault_place place = place_named(argc > 1 ? argv[1] : NULL);
    struct vault_cell *c = vault_address(place);
    if (argc > 2 && strcmp(argv[2], "write") == 0)
        write_counter_at(place, &c->counter);
    read_secret_at(place, c->secret);
}
