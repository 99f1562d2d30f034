#!/usr/bin/perl
# bench/data/geo/make-geodb.pl OUT.mmdb
#
# The GeoIP database of bench/dns-geo.sh, shared by gdnsd and geodnsd: GeoIP2-City
# schema (database_type GeoIP2-City, record size 28, IPv6 tree with IPv4 aliased so
# ::ffff:a.b.c.d finds the IPv4 data).  Needs MaxMind::DB::Writer::Tree (Debian
# libmaxmind-db-writer-perl).  Deterministic: the same file content on every machine.
#
# Content: 60 cities on every continent (table below); each city gets
#   - PER_CITY (8) IPv4 /24s, scattered over 1.0.0.0-223.255.255.255 by a fixed LCG
#     (unique, never in 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.168/16,
#     so the query generator can also draw "not in the database" /24s: see below);
#   - one IPv6 /48 in 2001:db8::/32 (2001:db8:<city index + 1>::/48);
# plus 127.0.0.0/8 and ::1/128 (Amsterdam), so queries without ECS (source 127.0.0.1)
# are located too.  480 + 60 + 2 = 542 networks.
#
# Also writes OUT.nets (TSV: network, city, country, continent, lat, lon) for the query
# generator and the cross-check (bench/data/geo/geo-tool.py).
# All data is made up for the benchmark: no real allocation is claimed.
use strict;
use warnings;
use utf8;
use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV or die "usage: $0 OUT.mmdb\n";
my $PER_CITY = 8;

# city, country, continent, lat, lon
my @cities = (
    [ 'Frankfurt',    'DE', 'EU',  50.11,    8.68 ], [ 'London',       'GB', 'EU',  51.51,   -0.13 ],
    [ 'Paris',        'FR', 'EU',  48.86,    2.35 ], [ 'Madrid',       'ES', 'EU',  40.42,   -3.70 ],
    [ 'Rome',         'IT', 'EU',  41.90,   12.50 ], [ 'Amsterdam',    'NL', 'EU',  52.37,    4.90 ],
    [ 'Stockholm',    'SE', 'EU',  59.33,   18.07 ], [ 'Warsaw',       'PL', 'EU',  52.23,   21.01 ],
    [ 'Moscow',       'RU', 'EU',  55.76,   37.62 ], [ 'Istanbul',     'TR', 'EU',  41.01,   28.98 ],
    [ 'Lisbon',       'PT', 'EU',  38.72,   -9.14 ], [ 'Dublin',       'IE', 'EU',  53.35,   -6.26 ],
    [ 'Reykjavik',    'IS', 'EU',  64.15,  -21.94 ], [ 'Cairo',        'EG', 'AF',  30.04,   31.24 ],
    [ 'Lagos',        'NG', 'AF',   6.52,    3.38 ], [ 'Nairobi',      'KE', 'AF',  -1.29,   36.82 ],
    [ 'Johannesburg', 'ZA', 'AF', -26.20,   28.05 ], [ 'Casablanca',   'MA', 'AF',  33.57,   -7.59 ],
    [ 'Dakar',        'SN', 'AF',  14.72,  -17.47 ], [ 'Cape Town',    'ZA', 'AF', -33.92,   18.42 ],
    [ 'Tokyo',        'JP', 'AS',  35.68,  139.69 ], [ 'Seoul',        'KR', 'AS',  37.57,  126.98 ],
    [ 'Beijing',      'CN', 'AS',  39.90,  116.40 ], [ 'Shanghai',     'CN', 'AS',  31.23,  121.47 ],
    [ 'Hong Kong',    'HK', 'AS',  22.32,  114.17 ], [ 'Mumbai',       'IN', 'AS',  19.08,   72.88 ],
    [ 'Delhi',        'IN', 'AS',  28.61,   77.21 ], [ 'Bangkok',      'TH', 'AS',  13.76,  100.50 ],
    [ 'Jakarta',      'ID', 'AS',  -6.21,  106.85 ], [ 'Manila',       'PH', 'AS',  14.60,  120.98 ],
    [ 'Dubai',        'AE', 'AS',  25.20,   55.27 ], [ 'Tehran',       'IR', 'AS',  35.69,   51.39 ],
    [ 'Karachi',      'PK', 'AS',  24.86,   67.01 ], [ 'Almaty',       'KZ', 'AS',  43.24,   76.89 ],
    [ 'Tel Aviv',     'IL', 'AS',  32.09,   34.78 ], [ 'Singapore',    'SG', 'AS',   1.35,  103.82 ],
    [ 'New York',     'US', 'NA',  40.71,  -74.01 ], [ 'Chicago',      'US', 'NA',  41.88,  -87.63 ],
    [ 'Los Angeles',  'US', 'NA',  34.05, -118.24 ], [ 'Seattle',      'US', 'NA',  47.61, -122.33 ],
    [ 'Dallas',       'US', 'NA',  32.78,  -96.80 ], [ 'Miami',        'US', 'NA',  25.76,  -80.19 ],
    [ 'Toronto',      'CA', 'NA',  43.65,  -79.38 ], [ 'Vancouver',    'CA', 'NA',  49.28, -123.12 ],
    [ 'Mexico City',  'MX', 'NA',  19.43,  -99.13 ], [ 'Denver',       'US', 'NA',  39.74, -104.99 ],
    [ 'Anchorage',    'US', 'NA',  61.22, -149.90 ], [ 'Honolulu',     'US', 'NA',  21.31, -157.86 ],
    [ 'Panama City',  'PA', 'NA',   8.98,  -79.52 ], [ 'Sao Paulo',    'BR', 'SA', -23.55,  -46.63 ],
    [ 'Buenos Aires', 'AR', 'SA', -34.60,  -58.38 ], [ 'Santiago',     'CL', 'SA', -33.45,  -70.67 ],
    [ 'Lima',         'PE', 'SA', -12.05,  -77.04 ], [ 'Bogota',       'CO', 'SA',   4.71,  -74.07 ],
    [ 'Caracas',      'VE', 'SA',  10.48,  -66.90 ], [ 'Rio de Janeiro','BR','SA', -22.91,  -43.17 ],
    [ 'Sydney',       'AU', 'OC', -33.87,  151.21 ], [ 'Melbourne',    'AU', 'OC', -37.81,  144.96 ],
    [ 'Perth',        'AU', 'OC', -31.95,  115.86 ], [ 'Auckland',     'NZ', 'OC', -36.85,  174.76 ],
);
my %continent = (
    EU => [ 6255148, 'Europe' ], NA => [ 6255149, 'North America' ], AS => [ 6255147, 'Asia' ],
    SA => [ 6255150, 'South America' ], OC => [ 6255151, 'Oceania' ], AF => [ 6255146, 'Africa' ],
);
my %types = (
    city => 'map', continent => 'map', country => 'map', registered_country => 'map',
    location => 'map', names => 'map', en => 'utf8_string', code => 'utf8_string',
    iso_code => 'utf8_string', geoname_id => 'uint32', latitude => 'double',
    longitude => 'double', accuracy_radius => 'uint16',
);

my $seed = 19700101;
sub rnd { my $n = shift; $seed = ( $seed * 1103515245 + 12345 ) % 2147483648; return int( ( $seed / 2147483648 ) * $n ) }
sub reserved {
    my ( $a, $b ) = @_;
    return $a == 0 || $a == 10 || $a == 127 || ( $a == 100 && $b >= 64 && $b < 128 )
        || ( $a == 169 && $b == 254 ) || ( $a == 172 && $b >= 16 && $b < 32 ) || ( $a == 192 && $b == 168 );
}

my @nets;    # [net, city index]
my %used;
for my $ci ( 0 .. $#cities ) {
    for ( 1 .. $PER_CITY ) {
        my ( $a, $b, $c );
        do { ( $a, $b, $c ) = ( 1 + rnd(223), rnd(256), rnd(256) ) } while reserved( $a, $b ) || $used{"$a.$b.$c"}++;
        push @nets, [ "$a.$b.$c.0/24", $ci ];
    }
    push @nets, [ sprintf( '2001:db8:%x::/48', $ci + 1 ), $ci ];
}
my ($ams) = grep { $cities[$_][0] eq 'Amsterdam' } 0 .. $#cities;
push @nets, [ '127.0.0.0/8', $ams ], [ '::1/128', $ams ];

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 28,
    database_type            => 'GeoIP2-City',
    languages                => ['en'],
    description              => { en => 'geodnsd bench/dns-geo.sh test database (made-up data)' },
    map_key_type_callback    => sub { $types{ $_[0] } // die "no type for key $_[0]\n" },
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4       => 1,
);
open my $tsv, '>', "$out.nets.tmp" or die "$out.nets.tmp: $!\n";
print $tsv "# network\tcity\tcountry\tcontinent\tlat\tlon\n";
for my $n (@nets) {
    my ( $net, $ci ) = @$n;
    my ( $city, $cc, $cont, $lat, $lon ) = @{ $cities[$ci] };
    my $country = { geoname_id => 1000 + $ci, iso_code => $cc, names => { en => $cc } };
    $tree->insert_network(
        $net,
        {
            city      => { geoname_id => 100000 + $ci, names => { en => $city } },
            continent => { code => $cont, geoname_id => $continent{$cont}[0], names => { en => $continent{$cont}[1] } },
            country   => $country,
            registered_country => $country,
            location  => { latitude => $lat, longitude => $lon, accuracy_radius => 20 },
        },
    );
    print $tsv join( "\t", $net, $city, $cc, $cont, $lat, $lon ), "\n";
}
close $tsv or die "close: $!\n";
open my $fh, '>:raw', "$out.tmp" or die "open $out.tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "close: $!\n";
rename "$out.tmp", $out or die "rename: $!\n";
rename "$out.nets.tmp", "$out.nets" or die "rename: $!\n";
printf "wrote %s (%d networks, %d cities) and %s.nets\n", $out, scalar @nets, scalar @cities, $out;
