/* continent.c: ISO 3166-1 country code -> continent code, for databases without a continent field.
 */
#include <string.h>

#include "geoip.h"

/* Sorted by country; continents as GeoNames/MaxMind use them (AF AN AS EU NA OC SA). */
static const char table[][5] = {
    "ADEU", "AEAS", "AFAS", "AGNA", "AINA", "ALEU", "AMAS", "AOAF", "AQAN", "ARSA", "ASOC", "ATEU",
    "AUOC", "AWNA", "AXEU", "AZAS", "BAEU", "BBNA", "BDAS", "BEEU", "BFAF", "BGEU", "BHAS", "BIAF",
    "BJAF", "BLNA", "BMNA", "BNAS", "BOSA", "BQNA", "BRSA", "BSNA", "BTAS", "BVAN", "BWAF", "BYEU",
    "BZNA", "CANA", "CCAS", "CDAF", "CFAF", "CGAF", "CHEU", "CIAF", "CKOC", "CLSA", "CMAF", "CNAS",
    "COSA", "CRNA", "CUNA", "CVAF", "CWNA", "CXOC", "CYEU", "CZEU", "DEEU", "DJAF", "DKEU", "DMNA",
    "DONA", "DZAF", "ECSA", "EEEU", "EGAF", "EHAF", "ERAF", "ESEU", "ETAF", "FIEU", "FJOC", "FKSA",
    "FMOC", "FOEU", "FREU", "GAAF", "GBEU", "GDNA", "GEAS", "GFSA", "GGEU", "GHAF", "GIEU", "GLNA",
    "GMAF", "GNAF", "GPNA", "GQAF", "GREU", "GSAN", "GTNA", "GUOC", "GWAF", "GYSA", "HKAS", "HMAN",
    "HNNA", "HREU", "HTNA", "HUEU", "IDAS", "IEEU", "ILAS", "IMEU", "INAS", "IOAS", "IQAS", "IRAS",
    "ISEU", "ITEU", "JEEU", "JMNA", "JOAS", "JPAS", "KEAF", "KGAS", "KHAS", "KIOC", "KMAF", "KNNA",
    "KPAS", "KRAS", "KWAS", "KYNA", "KZAS", "LAAS", "LBAS", "LCNA", "LIEU", "LKAS", "LRAF", "LSAF",
    "LTEU", "LUEU", "LVEU", "LYAF", "MAAF", "MCEU", "MDEU", "MEEU", "MFNA", "MGAF", "MHOC", "MKEU",
    "MLAF", "MMAS", "MNAS", "MOAS", "MPOC", "MQNA", "MRAF", "MSNA", "MTEU", "MUAF", "MVAS", "MWAF",
    "MXNA", "MYAS", "MZAF", "NAAF", "NCOC", "NEAF", "NFOC", "NGAF", "NINA", "NLEU", "NOEU", "NPAS",
    "NROC", "NUOC", "NZOC", "OMAS", "PANA", "PESA", "PFOC", "PGOC", "PHAS", "PKAS", "PLEU", "PMNA",
    "PNOC", "PRNA", "PSAS", "PTEU", "PWOC", "PYSA", "QAAS", "REAF", "ROEU", "RSEU", "RUEU", "RWAF",
    "SAAS", "SBOC", "SCAF", "SDAF", "SEEU", "SGAS", "SHAF", "SIEU", "SJEU", "SKEU", "SLAF", "SMEU",
    "SNAF", "SOAF", "SRSA", "SSAF", "STAF", "SVNA", "SXNA", "SYAS", "SZAF", "TCNA", "TDAF", "TFAN",
    "TGAF", "THAS", "TJAS", "TKOC", "TLOC", "TMAS", "TNAF", "TOOC", "TRAS", "TTNA", "TVOC", "TWAS",
    "TZAF", "UAEU", "UGAF", "UMOC", "USNA", "UYSA", "UZAS", "VAEU", "VCNA", "VESA", "VGNA", "VINA",
    "VNAS", "VUOC", "WFOC", "WSOC", "XKEU", "YEAS", "YTAF", "ZAAF", "ZMAF", "ZWAF",
};

const char *geoip_country_continent(const char *country)
{
    if (!country || strlen(country) != 2)
        return NULL;
    char cc[2] = {country[0], country[1]};
    if (cc[0] >= 'a' && cc[0] <= 'z')
        cc[0] = (char)(cc[0] - 'a' + 'A');
    if (cc[1] >= 'a' && cc[1] <= 'z')
        cc[1] = (char)(cc[1] - 'a' + 'A');
    size_t lo = 0, hi = sizeof(table) / sizeof(table[0]);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(table[mid], cc, 2);
        if (c == 0)
            return table[mid] + 2;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
