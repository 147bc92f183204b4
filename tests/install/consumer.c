/* lipcl tests — a program outside the tree that uses the installed headers and library. */
#include <lipcl/lipcl.h>
#include <stdio.h>

int main(void) {
    printf("consumer linked against lipcl %s\n", lip_version_string());
    return lip_version_number() == LIP_VERSION_NUMBER ? 0 : 1;
}
